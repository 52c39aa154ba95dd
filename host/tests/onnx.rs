//! ONNX import and export against real counterparts:
//! * the PyTorch-trained fixture (host/tests/data/onnx, made by `make_fixture.py` there; its
//!   `logits.json` holds PyTorch's logits, the golden numbers) imported inline, with external
//!   data and at opset 11, must reproduce PyTorch's logits to 1e-4 — the fixture flattens a
//!   13x13x20 map, so a wrong CHW->HWC column permutation fails here;
//! * our export of the shipped float models, run by onnxruntime (`scripts/onnx_run.py` in the
//!   setup-installed `.venv`), must match our float forward pass to 1e-5 (fails under CI=true
//!   when onnxruntime is missing);
//! * export then import gives identical weights; the CLI refuses to overwrite foreign files;
//! * unsupported operators and attributes, truncated and garbage files, missing or escaping
//!   external data give clear errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use host::data::{load_image, pixels_to_batch};
use host::layers::LayerSpec;
use host::model::{sha256_hex, Mode, Net, SavedModel};
use host::onnx::proto::{attribute_proto::AttributeType, AttributeProto, ModelProto};
use host::onnx::{export_model, import_bytes, import_file, ExportOptions, OnnxError};
use host::rng::Rng;
use prost::Message;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}
fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/onnx")
}
fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cnnfpga"))
}

/// Our float logits `[n, classes]` for HWC u8 images.
fn logits(net: &Net, images: &[Vec<u8>]) -> Vec<f32> {
    let x = pixels_to_batch(images.iter().map(|v| v.as_slice()));
    net.forward(x, Mode::Infer, &mut Rng::new(0)).0
}

#[derive(serde::Deserialize)]
struct Golden {
    classes: Vec<String>,
    images: Vec<GoldenImage>,
}
#[derive(serde::Deserialize)]
struct GoldenImage {
    image: String,
    pixels_rgb_sha256: String,
    logits: Vec<f32>,
}

fn golden() -> Golden {
    serde_json::from_slice(&std::fs::read(fixtures().join("logits.json")).unwrap()).unwrap()
}

/// Max |ours - PyTorch| over the golden images for one fixture file.
fn fixture_max_diff(file: &str) -> f32 {
    let g = golden();
    let imp = import_file(&fixtures().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    let mut images = Vec::new();
    for gi in &g.images {
        let px = load_image(&root().join(&gi.image)).unwrap();
        // The PNG holds the pixels PyTorch was given; a decoder difference would void the test.
        assert_eq!(
            sha256_hex(&px),
            gi.pixels_rgb_sha256,
            "{}: not the pixels PyTorch saw",
            gi.image
        );
        images.push(px);
    }
    let ours = logits(&imp.net, &images);
    let c = g.classes.len();
    assert_eq!(ours.len(), g.images.len() * c);
    let mut max = 0.0f32;
    for (i, gi) in g.images.iter().enumerate() {
        for k in 0..c {
            max = max.max((ours[i * c + k] - gi.logits[k]).abs());
        }
    }
    eprintln!("{file}: max |cnnfpga - PyTorch| logit difference {max:e}");
    max
}

#[test]
fn pytorch_fixture_inline_matches_pytorch_logits() {
    assert!(fixture_max_diff("paper_cnn_small.onnx") <= 1e-4);
    let imp = import_file(&fixtures().join("paper_cnn_small.onnx")).unwrap();
    assert_eq!(imp.classes.as_deref(), Some(golden().classes.as_slice()));
    assert_eq!(imp.opset, 18);
    // The 13x13x20 map is flattened into the first dense layer: the permutation is exercised.
    assert!(imp.net.arch.layers.contains(&LayerSpec::Flatten));
    assert!(imp.net.arch.layers.contains(&LayerSpec::Dense {
        inputs: 13 * 13 * 20,
        outputs: 16
    }));
}

#[test]
fn pytorch_fixture_external_data_matches_pytorch_logits() {
    assert!(fixture_max_diff("paper_cnn_small_ext.onnx") <= 1e-4);
}

#[test]
fn pytorch_fixture_opset11_matches_pytorch_logits() {
    assert!(fixture_max_diff("paper_cnn_small_op11.onnx") <= 1e-4);
    let imp = import_file(&fixtures().join("paper_cnn_small_op11.onnx")).unwrap();
    assert_eq!(imp.opset, 11);
    assert_eq!(imp.classes, None);
}

#[test]
fn flatten_permutation_is_not_the_identity() {
    // Guard against a fixture that would pass with any column order: reading the first dense
    // layer's columns in ONNX (CHW) order instead of ours must change the logits.
    let imp = import_file(&fixtures().join("paper_cnn_small.onnx")).unwrap();
    let mut wrong = imp.net.clone();
    let k = wrong
        .params
        .iter()
        .position(|p| p.value.shape() == [16, 3380])
        .unwrap();
    let w = wrong.params[k].value.clone();
    let (h, wd, c) = (13, 13, 20);
    for o in 0..16 {
        for p in 0..h * wd {
            for ch in 0..c {
                wrong.params[k].value[[o, p * c + ch]] = w[[o, ch * h * wd + p]];
            }
        }
    }
    let px = vec![load_image(&fixtures().join("images/cat_0000.png")).unwrap()];
    let (a, b) = (logits(&imp.net, &px), logits(&wrong, &px));
    let diff = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max);
    assert!(diff > 1e-2, "permutation had no effect ({diff})");
}

#[test]
fn cli_import_then_eval() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("m");
    let st = bin()
        .args(["import", "--onnx"])
        .arg(fixtures().join("paper_cnn_small.onnx"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("model.json")).unwrap()).unwrap();
    assert_eq!(meta["train_config"]["source"], "onnx-import");
    assert_eq!(meta["classes"][3], "horse");
    // The imported directory is a plain float model: eval takes it unchanged.
    let ev = bin()
        .args(["eval", "--json", "--model"])
        .arg(&out)
        .arg("--data")
        .arg(root().join("data/sample"))
        .output()
        .unwrap();
    assert!(
        ev.status.success(),
        "{}",
        String::from_utf8_lossy(&ev.stderr)
    );
    let m: serde_json::Value = serde_json::from_slice(&ev.stdout).unwrap();
    assert!(m["accuracy"].as_f64().unwrap() > 0.2, "{m}");
    // Importing again over our own output is allowed.
    let again = bin()
        .args(["import", "--onnx"])
        .arg(fixtures().join("paper_cnn_small_op11.onnx"))
        .args(["--classes", "cat,cow,elephant,horse,sheep", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}

#[test]
fn cli_import_needs_classes_without_metadata() {
    let tmp = tempfile::tempdir().unwrap();
    let st = bin()
        .args(["import", "--onnx"])
        .arg(fixtures().join("paper_cnn_small_op11.onnx"))
        .arg("--out")
        .arg(tmp.path().join("m"))
        .output()
        .unwrap();
    assert!(!st.status.success());
    let err = String::from_utf8_lossy(&st.stderr);
    assert!(
        err.contains("--classes") && err.contains("cnnfpga.classes"),
        "{err}"
    );
    let st = bin()
        .args(["import", "--classes", "a,b", "--onnx"])
        .arg(fixtures().join("paper_cnn_small_op11.onnx"))
        .arg("--out")
        .arg(tmp.path().join("m"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&st.stderr);
    assert!(
        !st.status.success() && err.contains("2 class names"),
        "{err}"
    );
}

#[test]
fn cli_refuses_to_overwrite_foreign_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    let foreign = tmp.path().join("notes");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("todo.txt"), "mine").unwrap();
    let st = bin()
        .args(["import", "--onnx"])
        .arg(fixtures().join("paper_cnn_small.onnx"))
        .arg("--out")
        .arg(&foreign)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&st.stderr);
    assert!(
        !st.status.success() && err.contains("refusing to overwrite"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(foreign.join("todo.txt")).unwrap(),
        "mine"
    );

    let file = tmp.path().join("model.onnx");
    std::fs::write(&file, "not ours").unwrap();
    let export = |f: &Path| {
        bin()
            .args(["export", "--model"])
            .arg(root().join("models/animals5-cnn"))
            .arg("--onnx")
            .arg(f)
            .output()
            .unwrap()
    };
    let st = export(&file);
    let err = String::from_utf8_lossy(&st.stderr);
    assert!(
        !st.status.success() && err.contains("refusing to overwrite"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "not ours");
    // Our own export may be replaced.
    std::fs::remove_file(&file).unwrap();
    assert!(export(&file).status.success());
    let st = export(&file);
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    assert!(import_file(&file).is_ok());
}

fn shipped(name: &str) -> SavedModel {
    SavedModel::load(&root().join("models").join(name)).unwrap()
}

#[test]
fn export_then_import_gives_identical_weights() {
    for name in ["animals5-cnn", "animals5-mlp"] {
        let m = shipped(name);
        let bytes = export_model(&m.net, &m.meta.classes, &ExportOptions::default()).unwrap();
        let imp = import_bytes(&bytes, Path::new(".")).unwrap();
        let without_dropout: Vec<LayerSpec> = m
            .net
            .arch
            .layers
            .iter()
            .filter(|l| !matches!(l, LayerSpec::Dropout { .. }))
            .cloned()
            .collect();
        assert_eq!(imp.net.arch.layers, without_dropout, "{name}");
        assert_eq!(imp.net.arch.input, m.net.arch.input);
        assert_eq!(imp.classes.as_deref(), Some(m.meta.classes.as_slice()));
        // Parameters are named by layer index, which shifts where dropout was left out: compare
        // them in order, bit for bit.
        assert_eq!(imp.net.params.len(), m.net.params.len());
        for (a, b) in imp.net.params.iter().zip(&m.net.params) {
            assert_eq!(a.value, b.value, "{name}: {} vs {}", a.name, b.name);
        }
    }
}

/// `.venv/bin/python` with onnxruntime, or None (then the caller skips, or fails under CI).
fn onnxruntime_python() -> Option<PathBuf> {
    let py = root().join(".venv/bin/python");
    let ok = Command::new(&py)
        .args(["-c", "import onnxruntime, numpy"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Some(py);
    }
    let msg = "onnxruntime is not installed in .venv: run scripts/setup.sh";
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{msg} (required when CI=true)");
    }
    eprintln!("SKIPPED onnxruntime check: {msg}");
    None
}

#[test]
fn onnxruntime_runs_our_export_like_our_forward_pass() {
    let Some(py) = onnxruntime_python() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    // Two images per class of data/sample.
    let mut images = Vec::new();
    for c in ["cat", "cow", "elephant", "horse", "sheep"] {
        let mut files: Vec<_> = std::fs::read_dir(root().join("data/sample").join(c))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in &files[..2] {
            images.push(load_image(f).unwrap());
        }
    }
    for name in ["animals5-cnn", "animals5-mlp"] {
        let m = shipped(name);
        let onnx = tmp.path().join(format!("{name}.onnx"));
        let st = bin()
            .args(["export", "--model"])
            .arg(root().join("models").join(name))
            .arg("--onnx")
            .arg(&onnx)
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
        let ours = logits(&m.net, &images);
        // NCHW input for onnxruntime from the same HWC batch our forward pass used.
        let x = pixels_to_batch(images.iter().map(|v| v.as_slice()));
        let nchw: Vec<f32> = x.permuted_axes([0, 3, 1, 2]).iter().copied().collect();
        let req = serde_json::json!({
            "model": onnx,
            "shape": [images.len(), 3, 64, 64],
            "data": nchw,
        });
        let mut child = Command::new(&py)
            .arg(root().join("scripts/onnx_run.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        serde_json::to_writer(child.stdin.take().unwrap(), &req).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let resp: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let ort: Vec<f32> = resp["logits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(resp["shape"], serde_json::json!([images.len(), 5]));
        assert_eq!(ort.len(), ours.len());
        let max = ours
            .iter()
            .zip(&ort)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        eprintln!(
            "{name}: max |cnnfpga - onnxruntime {}| = {max:e} over {} images",
            resp["onnxruntime"],
            images.len()
        );
        assert!(max <= 1e-5, "{name}: {max}");
    }
}

// ---- errors ------------------------------------------------------------------------------------

fn exported() -> ModelProto {
    let m = shipped("animals5-cnn");
    let bytes = export_model(&m.net, &m.meta.classes, &ExportOptions::default()).unwrap();
    ModelProto::decode(bytes.as_slice()).unwrap()
}

fn import_err(m: &ModelProto) -> String {
    match import_bytes(&m.encode_to_vec(), Path::new(".")) {
        Ok(_) => panic!("imported a model that should have been refused"),
        Err(e) => e.to_string(),
    }
}

fn set_ints(m: &mut ModelProto, op: &str, attr: &str, v: &[i64]) {
    let g = m.graph.as_mut().unwrap();
    let n = g.node.iter_mut().find(|n| n.op_type() == op).unwrap();
    n.attribute.retain(|a| a.name() != attr);
    n.attribute.push(AttributeProto {
        name: Some(attr.into()),
        r#type: Some(AttributeType::Ints as i32),
        ints: v.to_vec(),
        ..Default::default()
    });
}

#[test]
fn unsupported_operator_names_node_and_op() {
    let mut m = exported();
    let g = m.graph.as_mut().unwrap();
    let n = g.node.iter_mut().find(|n| n.op_type() == "Relu").unwrap();
    n.op_type = Some("Sigmoid".into());
    let e = import_err(&m);
    assert!(
        e.contains("`layers.1.relu`") && e.contains("Sigmoid") && e.contains("not supported"),
        "{e}"
    );
}

#[test]
fn unsupported_attributes_name_the_attribute() {
    for (op, attr, v, want) in [
        ("Conv", "strides", &[2i64, 2][..], "stride 1"),
        ("Conv", "dilations", &[2, 2][..], "dilation 1"),
        ("Conv", "pads", &[1, 1, 1, 1][..], "no padding"),
        ("MaxPool", "kernel_shape", &[3, 3][..], "2x2"),
        ("MaxPool", "strides", &[1, 1][..], "stride 2"),
    ] {
        let mut m = exported();
        set_ints(&mut m, op, attr, v);
        let e = import_err(&m);
        assert!(
            e.contains(&format!("({op})"))
                && e.contains(&format!("attribute `{attr}`"))
                && e.contains(want),
            "{op}.{attr}: {e}"
        );
    }
    // An attribute we do not know at all.
    let mut m = exported();
    set_ints(&mut m, "Conv", "frobnicate", &[1]);
    let e = import_err(&m);
    assert!(e.contains("attribute `frobnicate` is not supported"), "{e}");
    // Group convolution.
    let mut m = exported();
    let g = m.graph.as_mut().unwrap();
    let n = g.node.iter_mut().find(|n| n.op_type() == "Conv").unwrap();
    n.attribute
        .iter_mut()
        .find(|a| a.name() == "group")
        .unwrap()
        .i = Some(3);
    let e = import_err(&m);
    assert!(e.contains("attribute `group`"), "{e}");
}

#[test]
fn softmax_only_at_the_end_and_other_graph_errors() {
    // A final Softmax is dropped (logits kept).
    let mut m = exported();
    let g = m.graph.as_mut().unwrap();
    let last = g.node.last_mut().unwrap();
    last.output = vec!["pre".into()];
    g.node.push(host::onnx::proto::NodeProto {
        name: Some("probs".into()),
        op_type: Some("Softmax".into()),
        input: vec!["pre".into()],
        output: vec!["logits".into()],
        ..Default::default()
    });
    let imp = import_bytes(&m.encode_to_vec(), Path::new(".")).unwrap();
    assert!(imp.dropped.iter().any(|d| d.contains("Softmax")));
    // ...but not in the middle.
    let mut m = exported();
    let g = m.graph.as_mut().unwrap();
    let n = g.node.iter_mut().find(|n| n.op_type() == "Relu").unwrap();
    n.op_type = Some("Softmax".into());
    let e = import_err(&m);
    assert!(e.contains("Softmax"), "{e}");
    // An old opset.
    let mut m = exported();
    m.opset_import[0].version = Some(9);
    assert!(import_err(&m).contains("opset 9"));
    // A wrong input size.
    let mut m = exported();
    let g = m.graph.as_mut().unwrap();
    let host::onnx::proto::type_proto::Value::TensorType(t) =
        g.input[0].r#type.as_mut().unwrap().value.as_mut().unwrap()
    else {
        unreachable!()
    };
    t.shape.as_mut().unwrap().dim[2].value =
        Some(host::onnx::proto::tensor_shape_proto::dimension::Value::DimValue(32));
    let e = import_err(&m);
    assert!(e.contains("[N, 3, 64, 64]"), "{e}");
}

#[test]
fn truncated_and_garbage_files_are_clear_errors() {
    let bytes = std::fs::read(fixtures().join("paper_cnn_small.onnx")).unwrap();
    for cut in [1, 7, 100, bytes.len() / 3, bytes.len() / 2, bytes.len() - 1] {
        let e = import_bytes(&bytes[..cut], Path::new(".")).expect_err("truncated file imported");
        let msg = e.to_string();
        assert!(!msg.is_empty(), "cut {cut}");
        if cut == bytes.len() / 2 {
            assert!(matches!(e, OnnxError::Decode(_)), "cut {cut}: {msg}");
            assert!(msg.contains("truncated"), "{msg}");
        }
    }
    // Garbage: deterministic pseudo-random bytes, and text.
    let mut rng = Rng::new(7);
    for len in [3usize, 64, 4096, 100_000] {
        let garbage: Vec<u8> = (0..len).map(|_| (rng.next_u64() >> 56) as u8).collect();
        assert!(import_bytes(&garbage, Path::new(".")).is_err(), "len {len}");
    }
    let e = import_bytes(b"this is not an onnx file at all\n", Path::new(".")).unwrap_err();
    assert!(!e.to_string().is_empty());
    // Through the CLI: one error line, non-zero exit.
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("trunc.onnx");
    std::fs::write(&f, &bytes[..bytes.len() / 2]).unwrap();
    let st = bin()
        .args(["import", "--classes", "a,b,c,d,e", "--onnx"])
        .arg(&f)
        .arg("--out")
        .arg(tmp.path().join("m"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&st.stderr);
    assert!(
        !st.status.success() && err.starts_with("error: importing") && err.contains("truncated"),
        "{err}"
    );
    assert!(!tmp.path().join("m").exists());
}

#[test]
fn hostile_sizes_are_refused_before_allocating() {
    let mut m = exported();
    let g = m.graph.as_mut().unwrap();
    g.initializer[0].dims = vec![1 << 20, 1 << 20, 1 << 20];
    let e = import_err(&m);
    assert!(e.contains("exceeds the limit"), "{e}");
    let mut m = exported();
    m.graph.as_mut().unwrap().initializer[0].dims = vec![-5, 3];
    assert!(import_err(&m).contains("negative dimension"));
}

#[test]
fn external_data_missing_or_escaping_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("model");
    std::fs::create_dir(&dir).unwrap();
    let ext = dir.join("paper_cnn_small_ext.onnx");
    std::fs::copy(fixtures().join("paper_cnn_small_ext.onnx"), &ext).unwrap();
    // Missing data file.
    let e = import_file(&ext).unwrap_err().to_string();
    assert!(
        e.contains("external data") && e.contains("paper_cnn_small_ext.onnx.data"),
        "{e}"
    );
    // Present but too short.
    let data = std::fs::read(fixtures().join("paper_cnn_small_ext.onnx.data")).unwrap();
    std::fs::write(
        dir.join("paper_cnn_small_ext.onnx.data"),
        &data[..data.len() / 2],
    )
    .unwrap();
    let e = import_file(&ext).unwrap_err().to_string();
    assert!(e.contains("runs past its end"), "{e}");
    // A location outside the model's folder (the file exists there).
    std::fs::write(tmp.path().join("paper_cnn_small_ext.onnx.data"), &data).unwrap();
    let mut m = ModelProto::decode(std::fs::read(&ext).unwrap().as_slice()).unwrap();
    for t in &mut m.graph.as_mut().unwrap().initializer {
        for kv in &mut t.external_data {
            if kv.key() == "location" {
                kv.value = Some("../paper_cnn_small_ext.onnx.data".into());
            }
        }
    }
    std::fs::write(&ext, m.encode_to_vec()).unwrap();
    let e = import_file(&ext).unwrap_err().to_string();
    assert!(e.contains("leaves the model's folder"), "{e}");
}

#[test]
fn keras_style_graph_transpose_flatten_and_matmul_add() {
    // What tf2onnx makes of a channels-last Keras model: a Transpose to NHWC before the flatten
    // (so the dense weights are already in our HWC column order) and Dense as MatMul + Add with
    // [in, out] weights. Built from our export; importing it must give our weights back.
    use host::onnx::proto::{tensor_proto::DataType, NodeProto, TensorProto};
    let m = shipped("animals5-cnn");
    let mut p = exported();
    let g = p.graph.as_mut().unwrap();
    let fi = g
        .node
        .iter()
        .position(|n| n.op_type() == "Flatten")
        .unwrap();
    let flat_in = g.node[fi].input[0].clone();
    g.node[fi].input[0] = "nhwc".into();
    g.node.insert(
        fi,
        NodeProto {
            name: Some("to_nhwc".into()),
            op_type: Some("Transpose".into()),
            input: vec![flat_in],
            output: vec!["nhwc".into()],
            attribute: vec![AttributeProto {
                name: Some("perm".into()),
                r#type: Some(AttributeType::Ints as i32),
                ints: vec![0, 2, 3, 1],
                ..Default::default()
            }],
            ..Default::default()
        },
    );
    let f32_tensor = |name: &str, dims: Vec<i64>, v: Vec<f32>| TensorProto {
        name: Some(name.into()),
        dims,
        data_type: Some(DataType::Float as i32),
        float_data: v,
        ..Default::default()
    };
    // First dense: our [out, in] weights as they are (HWC columns), via Gemm transB = 1.
    let dense: Vec<usize> = (0..m.net.params.len())
        .filter(|&k| m.net.params[k].value.ndim() == 2)
        .collect();
    let w1 = &m.net.params[dense[0]].value;
    let t = g
        .initializer
        .iter_mut()
        .find(|t| t.dims == [w1.shape()[0] as i64, w1.shape()[1] as i64])
        .unwrap();
    *t = f32_tensor(t.name(), t.dims.clone(), w1.iter().copied().collect());
    // Last dense as MatMul [in, out] + Add.
    let w2 = &m.net.params[dense[1]].value;
    let b2 = &m.net.params[dense[1] + 1].value;
    let last = g.node.pop().unwrap();
    assert_eq!(last.op_type(), "Gemm");
    g.initializer.push(f32_tensor(
        "w_io",
        vec![w2.shape()[1] as i64, w2.shape()[0] as i64],
        w2.t().iter().copied().collect(),
    ));
    g.initializer.push(f32_tensor(
        "b",
        vec![w2.shape()[0] as i64],
        b2.iter().copied().collect(),
    ));
    g.node.push(NodeProto {
        name: Some("mm".into()),
        op_type: Some("MatMul".into()),
        input: vec![last.input[0].clone(), "w_io".into()],
        output: vec!["mm_out".into()],
        ..Default::default()
    });
    g.node.push(NodeProto {
        name: Some("bias".into()),
        op_type: Some("Add".into()),
        input: vec!["b".into(), "mm_out".into()],
        output: vec!["logits".into()],
        ..Default::default()
    });
    let imp = import_bytes(&p.encode_to_vec(), Path::new(".")).unwrap();
    assert_eq!(imp.net.params.len(), m.net.params.len());
    for (a, b) in imp.net.params.iter().zip(&m.net.params) {
        assert_eq!(a.value, b.value, "{} vs {}", a.name, b.name);
    }
    // A Transpose anywhere else is refused.
    let mut p = exported();
    let g = p.graph.as_mut().unwrap();
    let n = g.node.iter_mut().find(|n| n.op_type() == "Relu").unwrap();
    n.op_type = Some("Transpose".into());
    n.attribute = vec![AttributeProto {
        name: Some("perm".into()),
        r#type: Some(AttributeType::Ints as i32),
        ints: vec![0, 1, 3, 2],
        ..Default::default()
    }];
    let e = import_err(&p);
    assert!(e.contains("attribute `perm`"), "{e}");
}
