//! The shipped golden vectors (`models/animals5-cnn-int/golden`, written by `cnnfpga export`)
//! start from the decoded input bytes, so another implementation (the RTL, a C port) can start
//! from the same integers: each vector's stored input equals what our decoder
//! (`host::data::load_image`: the `image` crate, JPEG through `zune-jpeg`; docs/numerics.md,
//! "Where bit-exactness starts") makes of the named `data/sample` image, and running those bytes
//! through the shipped blob reproduces every stored layer output, the logits and the class.

use std::path::{Path, PathBuf};

use host::data::load_image;
use host::qmodel::{CaptureObserver, IntModel};
use sha2::{Digest, Sha256};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn span<'a>(bin: &'a [u8], s: &serde_json::Value) -> &'a [u8] {
    let off = s["offset"].as_u64().unwrap() as usize;
    let len = s["len"].as_u64().unwrap() as usize;
    let bytes = &bin[off..off + len];
    let sha: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(sha, s["sha256"].as_str().unwrap());
    let shape: usize = s["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .product();
    let width = if s["dtype"] == "i32le" { 4 } else { 1 };
    assert_eq!(len, shape * width);
    bytes
}

#[test]
fn golden_inputs_are_our_decoded_pixels_and_reproduce_every_layer() {
    let golden = root().join("models/animals5-cnn-int/golden");
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(golden.join("vectors.json")).unwrap()).unwrap();
    let bin = std::fs::read(golden.join("vectors.bin")).unwrap();
    let model = IntModel::load(&root().join("models/animals5-cnn-int")).unwrap();
    let vectors = index["vectors"].as_array().unwrap();
    let sources: Vec<&str> = vectors
        .iter()
        .map(|v| v["source"].as_str().unwrap())
        .collect();
    assert_eq!(
        sources,
        [
            "cat/0000.jpg",
            "cow/0000.jpg",
            "elephant/0000.jpg",
            "horse/0000.jpg",
            "sheep/0000.jpg"
        ]
    );
    for v in vectors {
        let src = v["source"].as_str().unwrap();
        let input = span(&bin, &v["input"]);
        assert_eq!(v["input"]["dtype"], "u8");
        assert_eq!(
            input,
            load_image(&root().join("data/sample").join(src)).unwrap(),
            "{src}: stored input differs from the decoder's pixels"
        );
        let mut obs = CaptureObserver::default();
        let out = model.run_observed(input, &mut obs, 0).unwrap();
        let layers = v["layers"].as_array().unwrap();
        assert_eq!(layers.len(), obs.layers.len());
        for (i, (stored, (_, got))) in layers.iter().zip(&obs.layers).enumerate() {
            assert_eq!(span(&bin, stored), &got[..], "{src}: layer {i}");
        }
        let logits: Vec<i32> = v["logits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_i64().unwrap() as i32)
            .collect();
        assert_eq!(out.logits, logits, "{src}");
        assert_eq!(out.class as u64, v["class"].as_u64().unwrap(), "{src}");
    }
    // the vectors are packed back to back: input, then the layers, vector after vector
    let end = vectors
        .last()
        .and_then(|v| v["layers"].as_array().unwrap().last())
        .map(|s| s["offset"].as_u64().unwrap() + s["len"].as_u64().unwrap());
    assert_eq!(end, Some(bin.len() as u64));
}
