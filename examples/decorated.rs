//! `#[cancelable]` on the methods of a service.
//!
//! A crawler fetches pages one after the other. Every fetch is its own operation with a 400ms
//! timeout; the whole crawl is an operation that stops on `SIGINT`/`SIGTERM` (press Ctrl+C), on
//! the service's shared shutdown token, or after 5s. The fetches run inside the crawl, so they
//! are its children: when the crawl is cancelled, the fetch in flight ends with reason `Parent`.
//! The results collected so far are saved under a shield, so the save completes even though the
//! crawl is being cancelled.
//!
//! Here the shutdown token is cancelled by a task after 1.7s, while the second batch is being
//! saved: the save completes, then the crawl stops, and the example ends by itself in about 2s.
//! Run it with `cargo run --example decorated`.

use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use cancelable::{
    Cancelable, CancellationError, CancellationReason, CancellationToken, cancelable, shielded,
};
use tokio::time::{Instant, sleep};

#[derive(Debug)]
enum CrawlError {
    Cancelled(CancellationError),
}

impl From<CancellationError> for CrawlError {
    fn from(error: CancellationError) -> Self {
        CrawlError::Cancelled(error)
    }
}

impl fmt::Display for CrawlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CrawlError::Cancelled(error) => write!(f, "crawl stopped: {error}"),
        }
    }
}

struct Crawler {
    shutdown: CancellationToken,
    saved: Mutex<Vec<String>>,
    started: Instant,
}

impl Crawler {
    /// One page. Page 3 is slow and runs into the timeout.
    #[cancelable(timeout = "400ms", name = "crawler.fetch")]
    async fn fetch(&self, page: u32, cancel: &Cancelable) -> Result<String, CancellationError> {
        let latency = if page == 3 { 900 } else { 150 };
        self.log(format!(
            "  fetch page {page} ({}, id {})",
            cancel.name(),
            short(cancel.id())
        ));
        sleep(Duration::from_millis(latency)).await;
        Ok(format!("page {page}"))
    }

    /// Pages until cancelled: by a signal, the shutdown token, or the 5s budget.
    #[cancelable(
        signal = ["SIGINT", "SIGTERM"],
        token = self.shutdown.clone(),
        timeout = "5s",
        name = "crawler.crawl",
    )]
    async fn crawl(&self, cancel: &Cancelable) -> Result<usize, CrawlError> {
        let mut pages = Vec::new();
        for page in 1.. {
            // Once cancelled (for instance during the shielded save below), start nothing new.
            cancel.check()?;
            match self.fetch(page).await {
                Ok(body) => pages.push(body),
                Err(error) if error.is_timeout() => {
                    self.log(format!("  skip page {page}: {error}"))
                }
                Err(error) => return Err(error.into()),
            }
            if pages.len() % 3 == 0 {
                // Even if the crawl is cancelled meanwhile, the save runs to the end.
                let batch = std::mem::take(&mut pages);
                shielded!(cancel, { self.save(batch).await });
            }
        }
        unreachable!("only a cancellation ends the crawl")
    }

    async fn save(&self, batch: Vec<String>) {
        sleep(Duration::from_millis(300)).await;
        self.log(format!("  saved {batch:?}"));
        self.saved.lock().unwrap().extend(batch);
    }

    fn log(&self, line: impl fmt::Display) {
        println!("{:>5}ms {line}", self.started.elapsed().as_millis());
    }
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

#[tokio::main]
async fn main() {
    let crawler = Crawler {
        shutdown: CancellationToken::new(),
        saved: Mutex::new(Vec::new()),
        started: Instant::now(),
    };
    crawler.log("crawling; press Ctrl+C to stop early (a shutdown comes at 1700ms anyway)");

    let shutdown = crawler.shutdown.clone();
    tokio::spawn(async move {
        sleep(Duration::from_millis(1700)).await;
        shutdown.cancel_with(CancellationReason::Manual, "deploying a new version");
    });

    match crawler.crawl().await {
        Ok(count) => crawler.log(format!("done: {count} pages")),
        Err(CrawlError::Cancelled(error)) => {
            crawler.log(format!("{error} (reason: {})", error.reason()));
        }
    }
    crawler.log(format!(
        "saved before stopping: {:?}",
        crawler.saved.lock().unwrap()
    ));
}
