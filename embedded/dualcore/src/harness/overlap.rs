//! Evidence that the two cores ran at the same time: a shared counter both cores add to
//! with every operation of a scenario ([`Recorder::op`]); each core snapshots it when it
//! starts and when it ends its part. If one core ran entirely before the other, the first
//! saw none of the other's additions between its snapshots. [`Race::overlapped`] requires
//! that *each* core saw the other's additions during its own run: the runs interleaved.
//! The scenario fails when they did not (no retry), printing the snapshots.

use core::fmt;
use core::sync::atomic::{AtomicU32, Ordering::*};

/// The shared counter.
static PROGRESS: AtomicU32 = AtomicU32::new(0);

/// One core's part of a scenario, as the counter saw it.
#[derive(Clone, Copy, Default, Debug)]
pub struct Span {
    /// The counter when this core started ...
    pub start: u32,
    /// ... and when it ended.
    pub end: u32,
    /// What this core added meanwhile.
    pub own: u32,
}

impl Span {
    /// What the other core added while this one ran.
    pub fn others(&self) -> u32 {
        self.end.wrapping_sub(self.start).wrapping_sub(self.own)
    }
}

/// Records one core's [`Span`].
pub struct Recorder {
    start: u32,
    own: u32,
}

impl Recorder {
    /// Starts this core's span.
    pub fn begin() -> Self {
        Self {
            start: PROGRESS.load(Acquire),
            own: 0,
        }
    }

    /// A span that started at `start` (a snapshot taken earlier, e.g. by
    /// [`Recorder::start`] of another recorder on this core).
    pub fn begin_at(start: u32) -> Self {
        Self { start, own: 0 }
    }

    /// The counter when this span started.
    pub fn start(&self) -> u32 {
        self.start
    }

    /// One operation of this core.
    #[inline(always)]
    pub fn op(&mut self) {
        PROGRESS.fetch_add(1, Relaxed);
        self.own += 1;
    }

    /// Ends this core's span.
    pub fn end(self) -> Span {
        Span {
            start: self.start,
            end: PROGRESS.load(Acquire),
            own: self.own,
        }
    }
}

/// Adds one to the shared counter from a context with no [`Recorder`] of its own (an
/// interrupt handler); the recorder of the code that owns the handler adds it to `own`
/// through [`Recorder::add_own`].
#[inline(always)]
pub fn op_elsewhere() {
    PROGRESS.fetch_add(1, Relaxed);
}

impl Recorder {
    /// Counts `n` operations done for this core elsewhere (its interrupt handlers).
    pub fn add_own(&mut self, n: u32) {
        self.own += n;
    }
}

/// A [`Span`] handed from one core to the other.
pub struct SpanCell([AtomicU32; 3]);

impl SpanCell {
    pub const fn new() -> Self {
        Self([const { AtomicU32::new(0) }; 3])
    }

    pub fn set(&self, span: Span) {
        self.0[0].store(span.start, Relaxed);
        self.0[1].store(span.end, Relaxed);
        self.0[2].store(span.own, Release);
    }

    pub fn get(&self) -> Span {
        let own = self.0[2].load(Acquire);
        Span {
            start: self.0[0].load(Relaxed),
            end: self.0[1].load(Relaxed),
            own,
        }
    }
}

/// Both cores' spans.
#[derive(Clone, Copy, Debug)]
pub struct Race(pub [Span; 2]);

impl Race {
    /// Each core saw the other's operations during its own run.
    pub fn overlapped(&self) -> bool {
        self.0.iter().all(|s| s.others() > 0)
    }
}

impl fmt::Display for Race {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (core, s) in self.0.iter().enumerate() {
            if core > 0 {
                f.write_str("; ")?;
            }
            write!(
                f,
                "core {}: counter {} -> {} ({} own, {} of the other core's during it)",
                core,
                s.start,
                s.end,
                s.own,
                s.others()
            )?;
        }
        Ok(())
    }
}
