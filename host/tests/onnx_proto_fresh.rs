//! Staleness check of the generated ONNX protobuf code: `host/src/onnx/proto.rs` must be what
//! `prost-build` (through the pure-Rust `protox` compiler) makes of the vendored
//! `host/proto/onnx.proto`. `UPDATE_ONNX_PROTO=1` rewrites the committed file.

use std::path::Path;

const HEADER: &str = "// @generated from host/proto/onnx.proto by prost-build + protox \
(host/tests/onnx_proto_fresh.rs). Do not edit.\n\
// Regenerate: UPDATE_ONNX_PROTO=1 cargo test -p host --test onnx_proto_fresh\n";

fn generate() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fds = protox::compile([root.join("proto/onnx.proto")], [root.join("proto")])
        .expect("compile onnx.proto");
    let out = tempfile::tempdir().unwrap();
    prost_build::Config::new()
        .out_dir(out.path())
        .compile_fds(fds)
        .expect("prost-build");
    let code = std::fs::read_to_string(out.path().join("onnx.rs")).unwrap();
    format!("{HEADER}{code}")
}

#[test]
fn generated_onnx_code_is_fresh() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/onnx/proto.rs");
    let want = generate();
    if std::env::var_os("UPDATE_ONNX_PROTO").is_some() {
        std::fs::write(&path, &want).unwrap();
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "{} is stale; regenerate with UPDATE_ONNX_PROTO=1 cargo test -p host --test onnx_proto_fresh",
        path.display()
    );
}
