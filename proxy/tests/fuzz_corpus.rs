//! Replays the fuzz targets' committed corpora (`fuzz/corpus/<target>/`) as ordinary tests, so
//! CI re-checks every input fuzzing ever kept: none may panic.

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("corpus directory") {
        let path = entry.expect("entry").path();
        let data = std::fs::read(&path).expect("read");
        run(&data);
        n += 1;
    }
    assert!(
        n >= 5,
        "{target}: only {n} corpus inputs in {}",
        dir.display()
    );
}

#[test]
fn pg_startup_corpus() {
    replay("pg_startup", dbward_proxy::fuzzing::pg_startup);
}

#[test]
fn pg_frames_corpus() {
    replay("pg_frames", dbward_proxy::fuzzing::pg_frames);
}

#[test]
fn mysql_handshake_corpus() {
    replay("mysql_handshake", dbward_proxy::fuzzing::mysql_handshake);
}

#[test]
fn mysql_packets_corpus() {
    replay("mysql_packets", dbward_proxy::fuzzing::mysql_packets);
}
