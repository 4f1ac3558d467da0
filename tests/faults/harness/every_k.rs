//! Scenarios (fixed sequences of operations on a [`Scene`]) and the machinery that runs
//! one once without a fault, to count what it reaches, then once per fault: at every k
//! of a fault site (natively; sampled under Miri).

use async_completion::{Completion, Lock};

use super::inject::{
    arm, count, disarm, fired, lock_log, quiet_injected_panics, Acquisition, Site,
};
use super::scene::{op_name, Scene};

// ---------------------------------------------------------------------------------------
// Scenarios: fixed sequences of operations, deterministic, run once without a fault to
// count what they reach, then once per fault.

pub type Scenario<L> = fn(&mut Scene<'_, L>);

/// FIFO hand-off, a re-poll with another waker, `complete_n` serving and banking.
pub fn sc_fifo<L: Lock>(s: &mut Scene<'_, L>) {
    let p: Vec<_> = (0..5).map(|_| s.probe()).collect();
    let w: Vec<_> = (0..3).map(|_| s.wait()).collect();
    for (i, &w) in w.iter().enumerate() {
        let _ = s.poll(w, &p[i]);
    }
    let _ = s.poll(w[0], &p[0]); // same waker
    let _ = s.poll(w[0], &p[3]); // another waker: keeps its place
    let _ = s.complete(); // to w0
    s.try_wait(); // false: it belongs to w0
    let d = s.wait();
    let _ = s.poll(d, &p[4]);
    let _ = s.complete_n(2); // w1, w2
    let _ = s.complete_n(3); // d, and two banked
    for &i in w.iter().chain([&d]) {
        let p = s.probe();
        let _ = s.poll(i, &p);
    }
    let e = s.wait();
    let pe = s.probe();
    let _ = s.poll(e, &pe); // takes a banked one
    s.try_wait();
}

/// Cancellation: a queued wait dropped, a handed one passing its completion on to the next
/// waiter and to the count, a released one dropped.
pub fn sc_cancel<L: Lock>(s: &mut Scene<'_, L>) {
    let p: Vec<_> = (0..6).map(|_| s.probe()).collect();
    let w: Vec<_> = (0..3).map(|_| s.wait()).collect();
    for (i, &w) in w.iter().enumerate() {
        let _ = s.poll(w, &p[i]);
    }
    let _ = s.drop_entry(w[1]); // queued
    let _ = s.complete(); // to w0
    let _ = s.drop_entry(w[0]); // handed: passed on to w2
    let _ = s.poll(w[2], &p[2]);
    let d = s.wait();
    let _ = s.poll(d, &p[3]);
    let _ = s.complete(); // to d
    let _ = s.drop_entry(d); // handed: passed on to the count
    s.try_wait();
    let e = s.wait();
    let f = s.wait();
    let _ = s.poll(e, &p[4]);
    let _ = s.poll(f, &p[5]);
    let _ = s.complete_all();
    let _ = s.drop_entry(e); // released
    let _ = s.poll(f, &p[5]);
    s.reinit();
    let _ = s.complete();
    s.try_wait();
}

/// More waiters than a batch: `complete_n` over two batches, then `complete_all` over two.
pub fn sc_batches<L: Lock>(s: &mut Scene<'_, L>) {
    let n = if cfg!(miri) { 34 } else { 40 };
    let mut ws = Vec::new();
    for _ in 0..n {
        let (w, p) = (s.wait(), s.probe());
        let _ = s.poll(w, &p);
        ws.push(w);
    }
    let _ = s.complete_n(33);
    let _ = s.drop_entry(ws[33]);
    for _ in 0..34 {
        let (w, p) = (s.wait(), s.probe());
        let _ = s.poll(w, &p);
        ws.push(w);
    }
    let _ = s.complete_all();
    for &w in &ws {
        if s.entries[w].is_some() {
            let p = s.probe();
            let _ = s.poll(w, &p);
        }
    }
    s.reinit();
}

/// `wait_or` and `wait_timeout`: the other future / sleep wins (the wait leaves the
/// queue), the completion wins, a handed completion passed on when the future is dropped.
pub fn sc_race<L: Lock>(s: &mut Scene<'_, L>) {
    let p: Vec<_> = (0..4).map(|_| s.probe()).collect();
    let (o, go) = s.wait_or();
    let (t, gt) = s.wait_timeout();
    let _ = s.poll(o, &p[0]);
    let _ = s.poll(t, &p[1]);
    go.open();
    let _ = s.poll(o, &p[0]); // Err: leaves the queue
    let _ = s.complete(); // to t
    gt.open();
    let _ = s.poll(t, &p[1]); // Ok: the wait is polled first
    let (t2, g2) = s.wait_timeout();
    let _ = s.poll(t2, &p[2]);
    g2.open();
    let _ = s.poll(t2, &p[2]); // Err(TimedOut)
    let (o2, _) = s.wait_or();
    let _ = s.poll(o2, &p[3]);
    let _ = s.complete(); // to o2
    let _ = s.drop_entry(o2); // passed on: banked
    s.try_wait();
    let (o3, g3) = s.wait_or();
    g3.open();
    let _ = s.poll(o3, &p[3]); // Err at once, nothing queued for long
    let (t3, _) = s.wait_timeout();
    let (o4, _) = s.wait_or();
    let _ = s.poll(t3, &p[0]);
    let _ = s.poll(o4, &p[1]);
    let _ = s.complete(); // to t3
    let _ = s.drop_entry(t3); // handed, with o4 queued: passed on under the lock
    let _ = s.drop_entry(o4); // handed
    let (t4, _) = s.wait_timeout();
    let _ = s.poll(t4, &p[2]);
    let _ = s.drop_entry(t4); // queued
}

/// `complete_waiters`: a pulse to the queued waiters, nothing banked; over two batches.
pub fn sc_pulse<L: Lock>(s: &mut Scene<'_, L>) {
    let p: Vec<_> = (0..3).map(|_| s.probe()).collect();
    let w: Vec<_> = (0..3).map(|_| s.wait()).collect();
    for (i, &w) in w.iter().enumerate() {
        let _ = s.poll(w, &p[i]);
    }
    let _ = s.complete(); // to w0
    let _ = s.complete_waiters(); // w1, w2
    let _ = s.complete_waiters(); // nobody: nothing banked
    let _ = s.drop_entry(w[2]); // pulsed, dropped: nothing passed on
    let (x, y) = (s.wait(), s.wait());
    let _ = s.poll(x, &p[2]);
    let _ = s.poll(y, &p[2]);
    let _ = s.poll(x, &p[1]); // another waker: the old one is dropped
    let _ = s.drop_entry(y); // queued
    s.try_wait();
    for (i, &w) in w.iter().enumerate().take(2) {
        let _ = s.poll(w, &p[i]);
    }
    let n = if cfg!(miri) { 33 } else { 36 };
    let mut ws = vec![x];
    for _ in 0..n {
        let (w, p) = (s.wait(), s.probe());
        let _ = s.poll(w, &p);
        ws.push(w);
    }
    let _ = s.complete_waiters();
    for &w in &ws {
        let p = s.probe();
        let _ = s.poll(w, &p);
    }
}

/// What one run of a scenario reached.
#[derive(Debug)]
pub struct Run {
    pub counts: [usize; 4],
    pub lock_log: Vec<Acquisition>,
    pub fired: Option<Site>,
}

pub const SITES: [Site; 4] = [Site::Lock, Site::Clone, Site::Wake, Site::Drop];

/// Runs `scenario` on a fresh completion, with `fail` armed, then [`Scene::finish`].
pub fn run<L: Lock>(scenario: Scenario<L>, fail: Option<(Site, usize)>) -> Run {
    quiet_injected_panics();
    let c = Completion::<L>::with_lock();
    let mut s = Scene::new(&c);
    arm(fail);
    scenario(&mut s);
    let run = Run {
        counts: SITES.map(count),
        lock_log: lock_log(),
        fired: fired(),
    };
    disarm();
    s.finish();
    run
}

/// The ks to inject a fault at, of the `eligible` ones: all of them natively; under Miri
/// (slow) the first and the last, or only the last in the scenarios over several batches
/// (where it falls in the batched `complete*`). Miri looks for undefined behaviour on the
/// paths the native run checks at every k.
pub fn sample(eligible: &[usize]) -> Vec<usize> {
    match eligible {
        [.., last] if cfg!(miri) && eligible.len() > 32 => vec![*last],
        [first, .., last] if cfg!(miri) => vec![*first, *last],
        all => all.to_vec(),
    }
}

/// Which lock faults must abort the process.
pub type Aborts = fn(&Acquisition) -> bool;

/// The drop of a queued or handed wait, and any second panic while unwinding (crate docs,
/// "Which lock, and interrupt safety").
pub fn must_abort(a: &Acquisition) -> bool {
    a.must_abort()
}

pub fn site_index(site: Site) -> usize {
    match site {
        Site::LockAfter => 0, // counted with `Site::Lock`
        site => SITES
            .iter()
            .position(|&s| s == site)
            .expect("a counted site"),
    }
}

/// Runs `scenario` with a fault at the k-th operation of `site`, for every k it reaches
/// (lock faults after which the crate must abort, by `aborts`, are left to the child
/// processes), `base` being its fault-free run. Returns how many faults were injected.
pub fn every_fault_after<L: Lock>(
    base: &Run,
    site: Site,
    scenario: Scenario<L>,
    aborts: Aborts,
) -> usize {
    let total = base.counts[site_index(site)];
    assert!(
        total > 0,
        "the scenario reaches no {} operation",
        op_name(site)
    );
    let eligible: Vec<usize> = (1..=total)
        .filter(|&k| {
            !matches!(site, Site::Lock | Site::LockAfter) || !aborts(&base.lock_log[k - 1])
        })
        .collect();
    let mut injected = 0;
    for k in sample(&eligible) {
        if std::env::var_os("FAULTS_VERBOSE").is_some() {
            eprintln!("fault: {} {k} of {total}", op_name(site));
        }
        let r = run(scenario, Some((site, k)));
        assert_eq!(
            r.fired,
            Some(site),
            "the fault at {} {k} fired",
            op_name(site)
        );
        injected += 1;
    }
    injected
}
