//! The request/callback pattern of the kernel's crypto API example (`my_wait`,
//! `my_req_done`, `my_wait_req`), with a `Completion` in the request's wait struct.
//!
//! The caller submits a request to a worker thread. Submission returns `-EINPROGRESS`
//! (queued) or `-EBUSY` (backlogged behind another request), or fails at once. The worker
//! processes the request, stores the status in the wait struct and calls the request's
//! completion callback, which calls `complete()`. The caller waits, reads the status,
//! `reinit()`s the completion and reuses the same request for its next job.
//!
//! Run with `cargo run --example async_request`.

use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

use async_completion::Completion;

const EBUSY: i32 = 16;
const EINVAL: i32 = 22;
const EMSGSIZE: i32 = 90;
const EINPROGRESS: i32 = 115;

/// The hardware can only encrypt this many bytes at once.
const MAX_LEN: usize = 16;

/// The kernel's `struct my_wait`: a completion and the status left by the callback.
struct MyWait {
    completion: Completion,
    err: AtomicI32,
}

impl MyWait {
    /// `my_init_wait()`.
    fn new() -> Self {
        MyWait {
            completion: Completion::new(),
            err: AtomicI32::new(0),
        }
    }
}

/// The kernel's `my_completion_t`.
type CompletionFn = fn(&MyRequest, i32);

/// The kernel's `struct my_request`: the request content plus its callback and the data
/// handed to it.
struct MyRequest {
    name: &'static str,
    buf: Mutex<Vec<u8>>,
    key: u8,
    complete: CompletionFn,
    data: Arc<MyWait>,
}

/// `my_req_done()`: the callback the worker calls. A `-EINPROGRESS` call only says that
/// a backlogged request has started; the final status comes later.
fn my_req_done(req: &MyRequest, err: i32) {
    if err == -EINPROGRESS {
        println!(
            "    callback({}): -EINPROGRESS, backlogged request started",
            req.name
        );
        return;
    }
    println!("    callback({}): status {err}: complete()", req.name);
    // Relaxed is enough: `complete()` releases, the wait that consumes it acquires.
    req.data.err.store(err, Ordering::Relaxed);
    req.data.completion.complete();
}

/// `my_wait_req()` (`cirrus_wait_req()` in the seed): waits if the request went
/// asynchronous, then re-arms the completion for the next use and returns the status.
async fn my_wait_req(err: i32, wait: &MyWait) -> i32 {
    match err {
        e if e == -EINPROGRESS || e == -EBUSY => {
            wait.completion.wait().await;
            wait.completion.reinit();
            wait.err.load(Ordering::Relaxed)
        }
        e => e,
    }
}

/// The "crypto engine": one worker thread processing requests in order.
struct Engine {
    queue: mpsc::Sender<(Arc<MyRequest>, bool)>,
    in_flight: Arc<AtomicUsize>,
}

impl Engine {
    fn start() -> Self {
        let (queue, requests) = mpsc::channel::<(Arc<MyRequest>, bool)>();
        let in_flight = Arc::new(AtomicUsize::new(0));
        thread::spawn({
            let in_flight = in_flight.clone();
            move || {
                for (req, backlogged) in requests {
                    if backlogged {
                        (req.complete)(&req, -EINPROGRESS);
                    }
                    thread::sleep(Duration::from_millis(10)); // the hardware at work
                    let err = {
                        let mut buf = req.buf.lock().unwrap();
                        if buf.len() > MAX_LEN {
                            -EMSGSIZE
                        } else {
                            buf.iter_mut().for_each(|b| *b ^= req.key);
                            0
                        }
                    };
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    // `my_request_complete()`: this runs on the worker thread.
                    (req.complete)(&req, err);
                }
            }
        });
        Engine { queue, in_flight }
    }

    /// `encrypt()`: validates, then queues the request. `-EINPROGRESS` if the engine was
    /// idle, `-EBUSY` if the request is backlogged behind others.
    fn encrypt(&self, req: &Arc<MyRequest>) -> i32 {
        if req.key == 0 {
            return -EINVAL; // a synchronous failure: nothing was queued
        }
        let backlogged = self.in_flight.fetch_add(1, Ordering::SeqCst) > 0;
        self.queue.send((req.clone(), backlogged)).unwrap();
        if backlogged {
            -EBUSY
        } else {
            -EINPROGRESS
        }
    }
}

/// `my_encrypt_packet()`: encrypts `packet` in place with `req`, returns success.
async fn my_encrypt_packet(engine: &Engine, req: &Arc<MyRequest>, packet: &[u8]) -> bool {
    *req.buf.lock().unwrap() = packet.to_vec();
    let submitted = engine.encrypt(req);
    println!(
        "  {}: encrypt({:?}) returned {submitted}",
        req.name,
        String::from_utf8_lossy(packet)
    );
    let ret = my_wait_req(submitted, &req.data).await;
    if ret != 0 {
        println!("  {}: encrypt returned with result '{ret}'", req.name);
        return false;
    }
    println!(
        "  {}: encrypted to {:02x?}",
        req.name,
        req.buf.lock().unwrap().as_slice()
    );
    true
}

fn new_request(name: &'static str, key: u8) -> Arc<MyRequest> {
    Arc::new(MyRequest {
        name,
        buf: Mutex::new(Vec::new()),
        key,
        // `my_request_set_callback(req, my_req_done, &wait)`
        complete: my_req_done,
        data: Arc::new(MyWait::new()),
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let engine = Engine::start();

    println!("== one request, reused for several packets (wait, read status, reinit)");
    let req = new_request("req1", 0x5a);
    let mut results = Vec::new();
    for packet in [&b"hello"[..], b"world", b"this packet is far too long"] {
        results.push(my_encrypt_packet(&engine, &req, packet).await);
        println!(
            "  {}: completion after use: {:?}",
            req.name, req.data.completion
        );
    }
    assert_eq!(results, [true, true, false]);

    println!();
    println!("== a request that fails synchronously never waits");
    let bad = new_request("req-nokey", 0);
    assert!(!my_encrypt_packet(&engine, &bad, b"secret").await);

    println!();
    println!("== two requests at once: the second is backlogged (-EBUSY)");
    let req2 = new_request("req2", 0x33);
    let (a, b) = tokio::join!(
        my_encrypt_packet(&engine, &req, b"first"),
        my_encrypt_packet(&engine, &req2, b"second"),
    );
    assert!(a && b);
    println!("done");
}
