//! A child MCP server's progress, routed to the calls it belongs to: rmcp
//! gives each request its own progress token, and [`ChildClient`] sends
//! the child's `notifications/progress` for that token to the call's output
//! chunks while the call runs (the `child` module registers each call).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use rmcp::ClientHandler;
use rmcp::model::{NumberOrString, ProgressNotificationParam};
use rmcp::service::{NotificationContext, RoleClient};

use crate::context::CallContext;

/// Characters of one progress message the child sends that are forwarded.
const MAX_PROGRESS_CHARS: usize = 1000;
/// Progress notifications kept for a call not yet registered (rmcp tells a
/// request's token only once the request is on its way); the oldest go.
const MAX_EARLY_PROGRESS: usize = 32;

/// Which call each progress token belongs to.
#[derive(Default)]
struct Routes {
    calls: HashMap<i64, CallContext>,
    early: VecDeque<(i64, String)>,
}

/// The client side of the connection to a child: routes its
/// `notifications/progress` to the call whose request carried the token,
/// as that call's output chunks. Progress for no known call is dropped.
#[derive(Clone, Default)]
pub(super) struct ChildClient {
    routes: Arc<Mutex<Routes>>,
}

impl ChildClient {
    fn routes(&self) -> std::sync::MutexGuard<'_, Routes> {
        self.routes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends the progress of `token` to `ctx` (what came already first)
    /// until the returned route is dropped.
    pub(super) fn route(&self, token: i64, ctx: CallContext) -> ProgressRoute<'_> {
        let mut routes = self.routes();
        for (early, line) in std::mem::take(&mut routes.early) {
            if early == token {
                ctx.progress(&line);
            } else {
                routes.early.push_back((early, line));
            }
        }
        routes.calls.insert(token, ctx);
        ProgressRoute {
            client: self,
            token,
        }
    }

    fn deliver(&self, token: i64, line: String) {
        let mut routes = self.routes();
        if let Some(ctx) = routes.calls.get(&token) {
            ctx.progress(&line);
            return;
        }
        if routes.early.len() == MAX_EARLY_PROGRESS {
            routes.early.pop_front();
        }
        routes.early.push_back((token, line));
    }
}

impl ClientHandler for ChildClient {
    fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) -> impl Future<Output = ()> + Send + '_ {
        if let NumberOrString::Number(token) = params.progress_token.0 {
            self.deliver(token, progress_line(&params));
        }
        std::future::ready(())
    }
}

/// One progress notification as a line of output: its message, else the
/// count (`3/10`).
fn progress_line(params: &ProgressNotificationParam) -> String {
    let mut line: String = match (&params.message, params.total) {
        (Some(message), _) => message.chars().take(MAX_PROGRESS_CHARS).collect(),
        (None, Some(total)) => format!("{}/{total}", params.progress),
        (None, None) => params.progress.to_string(),
    };
    line.push('\n');
    line
}

/// A call's place in [`ChildClient`]'s routes, freed however the call ends
/// (so no chunk follows the call's result).
pub(super) struct ProgressRoute<'a> {
    client: &'a ChildClient,
    token: i64,
}

impl Drop for ProgressRoute<'_> {
    fn drop(&mut self) {
        self.client.routes().calls.remove(&self.token);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(message: Option<&str>, total: Option<f64>) -> ProgressNotificationParam {
        serde_json::from_value(serde_json::json!({
            "progressToken": 1, "progress": 3, "total": total, "message": message,
        }))
        .expect("progress params")
    }

    #[test]
    fn a_progress_line_is_the_message_else_the_count() {
        assert_eq!(
            progress_line(&params(Some("copying a.txt"), Some(10.0))),
            "copying a.txt\n"
        );
        assert_eq!(progress_line(&params(None, Some(10.0))), "3/10\n");
        assert_eq!(progress_line(&params(None, None)), "3\n");
        let long = "x".repeat(5000);
        assert_eq!(
            progress_line(&params(Some(&long), None)).len(),
            MAX_PROGRESS_CHARS + 1,
            "a child cannot push a huge line through progress"
        );
    }
}
