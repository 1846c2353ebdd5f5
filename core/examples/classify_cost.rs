//! Classification cost per statement: cached (the fingerprint scan, a hash and a lookup) and
//! uncached (the full sqlparser parse and walk), for a 200-byte pgbench-style SELECT with a new
//! literal every time, as `pgbench -M simple` sends. Medians of interleaved rounds.
//!
//! `cargo run --release -p dbward-core --example classify_cost`

use std::time::Instant;

use dbward_core::policy::{Classifier, SqlDialect, classify_uncached};

fn statement(i: u64) -> String {
    format!(
        "SELECT abalance, bid, tid, filler FROM pgbench_accounts a \
         JOIN pgbench_branches b USING (bid) WHERE a.aid = {i} AND b.bbalance >= 0 \
         ORDER BY abalance DESC LIMIT 10 /* report */"
    )
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let classifier = Classifier::new(10_000);
    let sample = statement(1);
    let _ = classifier.classify(&sample, SqlDialect::Postgres);
    let (mut cached, mut uncached) = (Vec::new(), Vec::new());
    let mut n = 0u64;
    for _ in 0..21 {
        let start = Instant::now();
        for _ in 0..20_000 {
            n += 1;
            std::hint::black_box(classifier.classify(&statement(n), SqlDialect::Postgres));
        }
        cached.push(start.elapsed().as_secs_f64() * 1e6 / 20_000.0);
        let start = Instant::now();
        for _ in 0..500 {
            n += 1;
            std::hint::black_box(classify_uncached(&statement(n), SqlDialect::Postgres));
        }
        uncached.push(start.elapsed().as_secs_f64() * 1e6 / 500.0);
    }
    let formatting = {
        let start = Instant::now();
        for i in 0..20_000 {
            std::hint::black_box(statement(i));
        }
        start.elapsed().as_secs_f64() * 1e6 / 20_000.0
    };
    let report = format!(
        "statement: {} bytes\ncached decision: {:.2} us (of which building the test string {formatting:.2} us)\n\
         uncached (parse + walk): {:.1} us\n",
        sample.len(),
        median(cached),
        median(uncached)
    );
    std::io::Write::write_all(&mut std::io::stdout(), report.as_bytes()).expect("stdout");
}
