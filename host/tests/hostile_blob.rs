//! Issue 14's hostile model blob through the real CLI: a 388-byte blob with a valid CRC that
//! declares a 65535x65535x1 input, a 1x1 convolution to 16 channels (a 68.7 GB activation, so a
//! 137 GB arena), a pooling 1x1 convolution back to one channel and a P-layer head over the
//! 32767x32767 result. Before the size limits of `docs/model-format.md` the reader accepted it
//! and `cnnfpga eval` / `cnnfpga export` aborted allocating the arena (rc 134); now the reader
//! rejects it with `FormatError::TooLarge` and both commands print one line and exit 1.

use std::path::{Path, PathBuf};
use std::process::Command;

use firmware::crc::crc32;
use firmware::model::{
    encode, encode_p_row, FormatError, LayerDesc, Limit, Model, ModelDesc, Shape, HEADER_LEN,
    LAYER_RECORD_LEN, MAX_ACTIVATION_BYTES,
};
use firmware::numerics::Requant;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The hostile blob: a valid 2x2x1 model of the same structure from the encoder, with the
/// header's `in_h`/`in_w` and the head's `n_in` patched and the CRC fixed.
pub fn hostile_blob() -> Vec<u8> {
    let rq = |n| vec![Requant { m: 1, shift: 1 }; n];
    let mut entries = Vec::new();
    let row_len = (0..5)
        .map(|_| encode_p_row(2, &[1], 3, &mut entries).unwrap())
        .collect();
    let desc = ModelDesc {
        input: Shape { h: 2, w: 2, c: 1 },
        class_names: ["cat", "cow", "elephant", "horse", "sheep"]
            .map(String::from)
            .to_vec(),
        logit_scale: 1.0,
        layers: vec![
            LayerDesc::Conv {
                k: 1,
                cin: 1,
                cout: 16,
                pool: false,
                weights: vec![1; 16],
                bias: vec![0; 16],
                rq: rq(16),
            },
            LayerDesc::Conv {
                k: 1,
                cin: 16,
                cout: 1,
                pool: true,
                weights: vec![1; 16],
                bias: vec![0],
                rq: rq(1),
            },
            LayerDesc::DenseP {
                n_in: 1,
                n_out: 5,
                bits: 3,
                n2: 0,
                row_len,
                entries,
                bias: vec![0; 5],
                rq: None,
            },
        ],
    };
    let mut b = encode(&desc).unwrap();
    b[12..14].copy_from_slice(&u16::MAX.to_le_bytes()); // in_h
    b[14..16].copy_from_slice(&u16::MAX.to_le_bytes()); // in_w
    let table = u32::from_le_bytes(b[32..36].try_into().unwrap()) as usize;
    let head_n_in = table + 2 * LAYER_RECORD_LEN + 4;
    b[head_n_in..head_n_in + 4].copy_from_slice(&(32767u32 * 32767).to_le_bytes());
    let n = b.len() - 4;
    let crc = crc32(&b[..n]);
    b[n..].copy_from_slice(&crc.to_le_bytes());
    assert!(table > HEADER_LEN);
    b
}

#[test]
fn the_reader_rejects_the_hostile_blob_with_a_typed_error() {
    let b = hostile_blob();
    assert_eq!(b.len(), 388);
    // 65535 * 65535 bytes of input: over the limit before any layer is looked at
    assert_eq!(
        Model::parse(&b).unwrap_err(),
        FormatError::TooLarge {
            layer: 0,
            limit: Limit::InputBytes,
            value: 65535 * 65535,
            max: MAX_ACTIVATION_BYTES as u64,
        }
    );
}

#[test]
fn eval_and_export_refuse_the_hostile_blob_in_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let q = tmp.path().join("q");
    std::fs::create_dir_all(&q).unwrap();
    std::fs::write(q.join("model.blob"), hostile_blob()).unwrap();
    let out = tmp.path().join("out");
    for args in [
        vec![
            "eval",
            "--model",
            q.to_str().unwrap(),
            "--data",
            "data/sample",
        ],
        vec![
            "export",
            "--model",
            q.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_cnnfpga"))
            .current_dir(root())
            .args(["--threads", "2"])
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {o:?}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.contains("input bytes 4294836225 exceed the limit 1048576")
                && err.contains("error code 19"),
            "{args:?}: {err}"
        );
        assert!(!out.exists());
    }
}

#[test]
fn a_blob_file_over_the_limit_is_refused_before_it_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("model.blob");
    let file = std::fs::File::create(&f).unwrap();
    file.set_len(firmware::model::MAX_BLOB_LEN as u64 + 1)
        .unwrap(); // sparse
    let e = host::qmodel::IntModel::load(tmp.path()).unwrap_err();
    assert!(
        e.to_string()
            .contains("blob bytes 16777217 exceed the limit 16777216"),
        "{e}"
    );
}

#[test]
fn export_refuses_models_over_the_socs_windows() {
    // 64x64x3 -> 1x1 conv to 3 channels: two 12 288-byte activations, over the 20 KB arena
    let rq = |n| vec![Requant { m: 1, shift: 1 }; n];
    let mut entries = Vec::new();
    let row_len = vec![encode_p_row(1, &[1], 3, &mut entries).unwrap()];
    let conv = |cin| LayerDesc::Conv {
        k: 1,
        cin,
        cout: 3,
        pool: false,
        weights: vec![1; 3 * cin],
        bias: vec![0; 3],
        rq: rq(3),
    };
    let desc = ModelDesc {
        input: Shape { h: 64, w: 64, c: 3 },
        class_names: vec!["x".into()],
        logit_scale: 1.0,
        layers: vec![
            conv(3),
            conv(3),
            LayerDesc::DenseP {
                n_in: 64 * 64 * 3,
                n_out: 1,
                bits: 3,
                n2: 0,
                row_len,
                entries,
                bias: vec![0],
                rq: None,
            },
        ],
    };
    let m = host::qmodel::IntModel::from_blob(encode(&desc).unwrap(), "test").unwrap();
    let e = host::qmodel::export::export_files(&m, None, None).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "the model needs a 24579-byte arena, the SoC has {}",
            firmware::memmap::ARENA_LEN
        )
    );
}
