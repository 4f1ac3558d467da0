//! Child processes, for the faults after which the crate aborts by design: the test runs
//! itself again, alone, with [`CHILD_ENV`] set, and checks how the child died.
//!
//! A test names itself by passing its own function: [`test_name`] derives the libtest
//! name from the function's type (`faults::lock::cancel_aborts` → `lock::cancel_aborts`),
//! so renaming or moving a test can never silently make its child run nothing; and
//! [`run_child`] checks that the child ran exactly that one test.
#![allow(dead_code)] // the lock faults (feature `embassy-sync`) use most of it

/// The environment variable that makes a test body run its aborting case.
pub const CHILD_ENV: &str = "ASYNC_COMPLETION_FAULT_CHILD";

/// The value of [`CHILD_ENV`] when this process is a child run by [`run_child`].
pub fn child_arg() -> Option<String> {
    std::env::var(CHILD_ENV).ok()
}

/// The libtest name of the test function `test` (its path without the crate's name).
pub fn test_name<F: Fn()>(_test: F) -> &'static str {
    let path = std::any::type_name::<F>();
    match path.split_once("::") {
        Some((_crate, name)) => name,
        None => panic!("`{path}` is not a test function's path"),
    }
}

/// How a child process ended.
#[derive(Debug)]
pub struct ChildEnd {
    pub success: bool,
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stderr: String,
}

impl ChildEnd {
    /// Asserts the child died of `SIGABRT` (on unix; elsewhere: not successfully).
    pub fn assert_aborted(&self, what: &str) {
        assert!(
            !self.success && self.code.is_none(),
            "{what}: the child was expected to abort, it ended with {self:?}"
        );
        if cfg!(unix) {
            assert_eq!(self.signal, Some(6), "{what}: not SIGABRT: {self:?}");
        }
    }

    /// Asserts the child aborted naming `cause` (`async-completion: the lock panicked
    /// while {cause}`).
    pub fn assert_aborted_naming(&self, what: &str, cause: &str) {
        self.assert_aborted(what);
        let message = format!("async-completion: the lock panicked while {cause}");
        assert!(
            self.stderr.contains(&message),
            "{what}: the abort does not say `{message}`; stderr:\n{}",
            self.stderr
        );
    }
}

/// Runs the test `test` (the calling test's own function) of this test executable alone,
/// in a child process, with [`CHILD_ENV`] set to `arg`.
pub fn run_child<F: Fn()>(test: F, arg: &str) -> ChildEnd {
    let name = test_name(test);
    let out = std::process::Command::new(std::env::current_exe().expect("current_exe"))
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, arg)
        .output()
        .expect("spawn the test executable");
    #[cfg(unix)]
    let signal = std::os::unix::process::ExitStatusExt::signal(&out.status);
    #[cfg(not(unix))]
    let signal = None;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        stdout.contains("running 1 test"),
        "the child run of `{name}` did not run that one test; stdout:\n{stdout}"
    );
    ChildEnd {
        success: out.status.success(),
        code: out.status.code(),
        signal,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
