//! async-std tasks and [`AsyncIoTimer`] (the timer async-std and smol run on).
//!
//! A pool of workers each waits for a job signal with a timeout; when no job arrives in
//! time a worker reports that it is idle and waits again. The dispatcher posts three
//! jobs, one `complete()` each: they go to the workers in the order they queued, one
//! worker per job. Then `complete_all()` tells every worker to shut down.
//!
//! Run with `cargo run --example async_std --features async-io`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_completion::{AsyncIoTimer, Completion};
use async_std::task;

struct Pool {
    job_ready: Completion,
    shutting_down: AtomicBool,
}

async fn worker(id: u32, pool: Arc<Pool>) -> u32 {
    let mut jobs = 0;
    loop {
        match pool
            .job_ready
            .wait_timeout(AsyncIoTimer, Duration::from_millis(60))
            .await
        {
            Ok(()) if pool.shutting_down.load(Ordering::Acquire) => {
                println!("  worker {id}: shutdown signal, leaving after {jobs} job(s)");
                return jobs;
            }
            Ok(()) => {
                jobs += 1;
                println!("  worker {id}: got a job");
                task::sleep(Duration::from_millis(10)).await; // do the job
            }
            Err(timed_out) => println!("  worker {id}: {timed_out}; idle, waiting again"),
        }
    }
}

#[async_std::main]
async fn main() {
    let pool = Arc::new(Pool {
        job_ready: Completion::new(),
        shutting_down: AtomicBool::new(false),
    });
    let workers: Vec<_> = (1..=3)
        .map(|id| task::spawn(worker(id, pool.clone())))
        .collect();

    println!("== no job for 100 ms: the workers time out and wait again");
    task::sleep(Duration::from_millis(100)).await;

    println!("== three jobs, one complete() each: one worker per job");
    for job in 1..=3 {
        println!("dispatcher: job {job} posted");
        pool.job_ready.complete();
        task::sleep(Duration::from_millis(5)).await;
    }
    task::sleep(Duration::from_millis(30)).await;

    println!("== shutdown: complete_all() releases every worker, now and later");
    pool.shutting_down.store(true, Ordering::Release);
    pool.job_ready.complete_all();
    let mut total = 0;
    for w in workers {
        total += w.await;
    }
    println!("done: {total} jobs run, state {:?}", pool.job_ready);
    assert_eq!(total, 3);
}
