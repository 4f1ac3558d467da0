//! Stack measurement by painting: fill free stack (below the stack pointer) with a pattern,
//! let something run, and find the lowest word it overwrote.
//!
//! One stack for everything: cortex-m-rt starts thread mode on the main stack and the core
//! pushes every exception onto it, so an interrupt handler's stack use lies just below the
//! stack pointer of the code it interrupted (see `irq::fire_measuring_stack`).

/// The paint: a word that neither an address nor a small number is likely to be.
pub const PAINT: u32 = 0xC5A7_F00D;

extern "C" {
    /// cortex-m-rt's linker script: the lowest address the stack may grow to (the end of
    /// the statics) ...
    static _stack_end: u32;
    /// ... and the initial stack pointer (the top of RAM).
    static _stack_start: u32;
}

/// The current stack pointer.
#[inline(always)]
pub fn sp() -> usize {
    let sp: usize;
    // SAFETY: reads a register, touches no memory.
    unsafe {
        core::arch::asm!("mov {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags))
    };
    sp
}

/// The lowest address the stack may use: painting below it would overwrite statics.
#[inline(always)]
pub fn limit() -> usize {
    // Only the address of the linker symbol is taken.
    core::ptr::addr_of!(_stack_end) as usize
}

/// The top of the stack: the stack pointer at reset.
#[inline(always)]
pub fn top() -> usize {
    core::ptr::addr_of!(_stack_start) as usize
}

/// Paints the free stack from `bottom` (word-aligned, at or above [`limit`]) up to the
/// stack pointer, runs `between` (assembly that does not use the stack itself: an
/// interrupt it pends does, and is what gets measured), and returns the stack pointer it
/// ran on and the lowest painted word no longer holding the paint (the stack pointer if
/// none).
///
/// In assembly because the compiler may move the stack pointer anywhere in Rust code (its
/// prologue can come after a read of `sp`): here the stack pointer cannot move between the
/// read, the paint, `between` and the scan. The first thing the interrupt writes is its
/// exception frame, just below that stack pointer.
macro_rules! paint_run_scan {
    ($bottom:expr, $between:literal, $($operands:tt)*) => {{
        let (sp, lowest): (usize, usize);
        // SAFETY: writes only free stack, below the stack pointer (no red zone on Arm:
        // exceptions may overwrite it at any time anyway) and at or above `bottom`.
        unsafe {
            core::arch::asm!(
                "mov {sp}, sp",
                // paint [bottom, sp)
                "mov {p}, {bottom}",
                "2:",
                "cmp {p}, {sp}",
                "bhs 3f",
                "str {paint}, [{p}]",
                "adds {p}, #4",
                "b 2b",
                "3:",
                $between,
                // the lowest word of [bottom, sp) that no longer holds the paint
                "mov {p}, {bottom}",
                "4:",
                "cmp {p}, {sp}",
                "bhs 5f",
                "ldr {word}, [{p}]",
                "cmp {word}, {paint}",
                "bne 5f",
                "adds {p}, #4",
                "b 4b",
                "5:",
                bottom = in(reg) $bottom,
                paint = in(reg) $crate::harness::stack::PAINT,
                sp = out(reg) sp,
                p = out(reg) lowest,
                word = out(reg) _,
                $($operands)*
            );
        }
        (sp, lowest)
    }};
}
pub(crate) use paint_run_scan;

/// Paints all the free stack, from [`limit`] up to the stack pointer, for [`deepest`] to
/// find how deep the stack went since.
#[inline(never)]
pub fn paint_free() {
    // Nothing in between: the scan finds nothing written (its result is not needed).
    let _ = paint_run_scan!(limit(), "",);
}

/// The deepest the stack went since [`paint_free`]: bytes from [`top`] down to the lowest
/// word written. Painting again below the deepest point (as `irq::fire_measuring_stack`
/// does) hides it: read this first.
pub fn deepest() -> usize {
    let mut p = limit();
    // Read only; words at or above the stack pointer are in use, hence never the paint
    // (or the stack went deeper before anyway).
    // SAFETY: word-aligned RAM between the statics and the top of the stack.
    while p < top() && unsafe { (p as *const u32).read_volatile() } == PAINT {
        p += 4;
    }
    top() - p
}
