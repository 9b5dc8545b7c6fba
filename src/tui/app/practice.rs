//! The demo's practice keys: `K` kills the selected node (after a second `K`), `R` restarts
//! it from its `redis.conf`, `F` freezes it and thaws it again. The faults are carried out by
//! the demo's sandbox (`Effect::SandboxFault`); outside `redops demo` the keys only say so.

use std::collections::BTreeSet;

use super::{App, Effect};
use crate::sandbox::{Fault, FaultDone};

/// What the practice keys remember between presses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Practice {
    /// The node a first `K` asked to kill; any other key disarms it.
    pub armed: Option<String>,
    /// Nodes the sandbox froze for `F`: the next `F` on one of them thaws it.
    pub frozen: BTreeSet<String>,
}

impl App {
    pub(super) fn practice_key(&mut self, asked: Fault) -> Vec<Effect> {
        let Some(dir) = self.opts.sandbox_dir.clone() else {
            self.flash_info("K, R and F inject faults into the demo's sandbox: `redops demo` only");
            return Vec::new();
        };
        let Some(node) = self.selected_node().map(|n| n.name.clone()) else {
            self.flash_info("select a node first");
            return Vec::new();
        };
        let fault = match asked {
            Fault::Freeze if self.practice.frozen.contains(&node) => Fault::Thaw,
            other => other,
        };
        if fault == Fault::Kill && self.practice.armed.as_deref() != Some(node.as_str()) {
            self.flash_error(&format!(
                "kill {node} (SIGKILL, its data stays)? K again to confirm, any other key cancels"
            ));
            self.practice.armed = Some(node);
            return Vec::new();
        }
        self.practice.armed = None;
        self.flash_info(&format!("{} {node}…", fault.word()));
        vec![Effect::SandboxFault { dir, fault, node }]
    }

    pub(super) fn fault_answered(&mut self, r: Result<FaultDone, String>) {
        match r {
            Ok(d) => {
                // Only what the sandbox did: a freeze refused (node down) leaves F a freeze.
                if d.fault == Fault::Freeze {
                    self.practice.frozen.insert(d.node.clone());
                } else {
                    self.practice.frozen.remove(&d.node);
                }
                let (node, pid) = (&d.node, d.pid);
                let text = match d.fault {
                    Fault::Kill if !d.was_running => format!("{node} was not running"),
                    Fault::Kill => format!("{node} killed (pid {pid}); R restarts it"),
                    Fault::Restart => format!("{node} restarted from its redis.conf (pid {pid})"),
                    Fault::Freeze => format!("{node} frozen (SIGSTOP); F thaws it"),
                    Fault::Thaw => format!("{node} thawed"),
                };
                self.flash_info(&text);
            }
            Err(e) => self.flash_error(&e),
        }
    }
}
