//! Stopping a run: `--timeout` and Ctrl-C cancel every query still running, on the
//! server, and turn queries not yet started into quick "not evaluated" results.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::ExecError;

/// Something that can stop a running statement (a DuckDB interrupt handle, a Postgres
/// cancel token, ...).
pub trait Interrupt: Send + Sync {
    fn interrupt(&self);
}

#[derive(Default)]
pub struct RunControl {
    cancelled: AtomicBool,
    reason: Mutex<Option<String>>,
    // Weak: a finished session drops its handle and is simply skipped
    interrupters: Mutex<Vec<Weak<dyn Interrupt>>>,
    /// wakes whoever waits in `cancelled()` (a connection attempt, say)
    notify: Notify,
    /// when `--timeout` ends the run, and what it says then; for server-side statement
    /// timeouts
    deadline: Mutex<Option<(Instant, String)>>,
    /// the run's name where an engine shows one beside its work (Spark job tags):
    /// `assay-<scan_id>`
    label: Mutex<Option<String>>,
}

/// A server's own statement limit is set to the same deadline as the client's timer and
/// may fire this much earlier.
const DEADLINE_SLACK: Duration = Duration::from_millis(250);

impl RunControl {
    pub fn new() -> Arc<RunControl> {
        Arc::new(RunControl::default())
    }

    pub fn cancel(&self, reason: &str) {
        {
            let mut r = self.reason.lock().unwrap_or_else(|e| e.into_inner());
            if r.is_none() {
                *r = Some(reason.to_string());
            }
        }
        self.cancelled.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
        let handles = self.interrupters.lock().unwrap_or_else(|e| e.into_inner());
        for h in handles.iter().filter_map(Weak::upgrade) {
            h.interrupt();
        }
    }

    /// Resolves once the run is cancelled.
    pub async fn cancelled(&self) {
        loop {
            let notified = self.notify.notified();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }

    /// `work` (a connection attempt, a wait for a pool slot), unless the run is
    /// cancelled first.
    pub async fn unless_cancelled<T>(
        &self,
        work: impl std::future::Future<Output = T>,
    ) -> Result<T, ExecError> {
        tokio::select! {
            r = work => Ok(r),
            _ = self.cancelled() => Err(self.check().unwrap_err()),
        }
    }

    /// A connection slot of a pool, waited for unless the run is cancelled first.
    pub async fn pool_slot(
        &self,
        permits: &Arc<tokio::sync::Semaphore>,
    ) -> Result<tokio::sync::OwnedSemaphorePermit, ExecError> {
        self.check()?;
        self.unless_cancelled(permits.clone().acquire_owned())
            .await?
            .map_err(|_| ExecError::Query("the connection pool is closed".into()))
    }

    pub fn set_deadline(&self, deadline: Instant, reason: &str) {
        *self.deadline.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((deadline, reason.to_string()));
    }

    /// Why a statement that failed was stopped, when the run was: by Ctrl-C or the
    /// timeout, or by the server's statement limit at the run's deadline (a moment before
    /// the client's own timer, which this then stands in for).
    pub fn stop_reason(&self, e: &ExecError) -> Option<String> {
        if !self.is_cancelled() && matches!(e, ExecError::Cancelled(_)) {
            let expired = self
                .deadline
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
                .filter(|(d, _)| Instant::now() + DEADLINE_SLACK >= *d)
                .map(|(_, reason)| reason.clone());
            if let Some(reason) = expired {
                self.cancel(&reason);
            }
        }
        if self.is_cancelled() {
            self.reason()
        } else {
            None
        }
    }

    /// Time left before `--timeout` ends the run; None without a timeout.
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|(d, _)| d.saturating_duration_since(Instant::now()))
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    pub fn reason(&self) -> Option<String> {
        self.reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn set_label(&self, label: &str) {
        *self.label.lock().unwrap_or_else(|e| e.into_inner()) = Some(label.to_string());
    }

    pub fn label(&self) -> Option<String> {
        self.label.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn register(&self, handle: &Arc<dyn Interrupt>) {
        let mut handles = self.interrupters.lock().unwrap_or_else(|e| e.into_inner());
        handles.retain(|w| w.strong_count() > 0);
        handles.push(Arc::downgrade(handle));
        drop(handles);
        if self.is_cancelled() {
            handle.interrupt();
        }
    }

    /// Err when the run was cancelled, to be checked before each statement.
    pub fn check(&self) -> Result<(), ExecError> {
        if self.is_cancelled() {
            Err(ExecError::Cancelled(
                self.reason().unwrap_or_else(|| "cancelled".into()),
            ))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    struct Counter(AtomicUsize);
    impl Interrupt for Counter {
        fn interrupt(&self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn cancel_interrupts_live_handles_and_late_registrations() {
        let control = RunControl::new();
        let live = Arc::new(Counter(AtomicUsize::new(0)));
        let live_handle: Arc<dyn Interrupt> = live.clone();
        control.register(&live_handle);
        assert!(control.check().is_ok());
        control.cancel("timeout after 1s");
        let late = Arc::new(Counter(AtomicUsize::new(0)));
        let late_handle: Arc<dyn Interrupt> = late.clone();
        control.register(&late_handle);
        assert!(matches!(control.check(), Err(ExecError::Cancelled(r)) if r == "timeout after 1s"));
        assert_eq!(live.0.load(Ordering::SeqCst), 1);
        assert_eq!(late.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_server_statement_limit_at_the_deadline_reads_as_the_timeout() {
        let control = RunControl::new();
        control.set_deadline(
            Instant::now() + Duration::from_secs(60),
            "the run exceeded --timeout 1m",
        );
        let server_limit =
            ExecError::Cancelled("canceling statement due to statement timeout".into());
        // long before the deadline: the statement's own error
        assert_eq!(control.stop_reason(&server_limit), None);
        let control = RunControl::new();
        control.set_deadline(Instant::now(), "the run exceeded --timeout 1s");
        assert_eq!(
            control.stop_reason(&ExecError::Query("syntax error".into())),
            None
        );
        assert_eq!(
            control.stop_reason(&server_limit).as_deref(),
            Some("the run exceeded --timeout 1s")
        );
        // and the run stops as if its own timer had fired
        assert!(control.check().is_err());
    }
}
