//! Data loading (corrupt files, empty/missing classes, split) and the model directory
//! (round trip, version, hash and shape checks).

use std::fs;
use std::path::Path;

use host::data::{load_folder, DataError};
use host::model::{Arch, ModelError, ModelMeta, Net, Normalization, SavedModel};
use host::rng::Rng;

fn write_png(path: &Path, w: u32, h: u32, seed: u8) {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8 ^ seed, y as u8, seed]));
    img.save(path).unwrap();
}

fn tree(root: &Path, classes: &[(&str, usize)]) {
    for (c, n) in classes {
        fs::create_dir_all(root.join(c)).unwrap();
        for i in 0..*n {
            write_png(
                &root.join(c).join(format!("{i:03}.png")),
                30 + i as u32,
                20,
                i as u8,
            );
        }
    }
}

#[test]
fn loads_resizes_and_skips_corrupt_files() {
    let d = tempfile::tempdir().unwrap();
    tree(d.path(), &[("b_dog", 4), ("a_cat", 3)]);
    fs::write(d.path().join("a_cat/broken.jpg"), b"not a jpeg").unwrap();
    fs::write(d.path().join("a_cat/notes.txt"), b"ignored").unwrap();
    let (ds, rep) = load_folder(d.path()).unwrap();
    assert_eq!(ds.classes, vec!["a_cat", "b_dog"]); // sorted folder names
    assert_eq!(ds.len(), 7);
    assert_eq!(ds.class_counts(), vec![3, 4]);
    assert!(ds.images.iter().all(|i| i.len() == 64 * 64 * 3));
    assert_eq!(rep.skipped, 1);
    assert!(rep.examples[0].0.ends_with("broken.jpg"));
    // Same folder, same order.
    let (ds2, _) = load_folder(d.path()).unwrap();
    assert_eq!(ds.paths, ds2.paths);
    assert_eq!(ds.images, ds2.images);
}

#[test]
fn empty_class_and_no_class_are_errors() {
    let d = tempfile::tempdir().unwrap();
    assert!(matches!(
        load_folder(d.path()),
        Err(DataError::NoClasses(_))
    ));
    tree(d.path(), &[("a", 2)]);
    fs::create_dir(d.path().join("b")).unwrap();
    fs::write(d.path().join("b/x.png"), b"garbage").unwrap();
    let e = load_folder(d.path()).unwrap_err();
    assert!(
        matches!(e, DataError::EmptyClass { ref class, .. } if class == "b"),
        "{e}"
    );
}

#[test]
fn stratified_split_is_deterministic() {
    let d = tempfile::tempdir().unwrap();
    tree(d.path(), &[("a", 10), ("b", 5)]);
    let (ds, _) = load_folder(d.path()).unwrap();
    let (tr, va) = ds.split_stratified(0.2, 7).unwrap();
    assert_eq!(va.class_counts(), vec![2, 1]);
    assert_eq!(tr.class_counts(), vec![8, 4]);
    let (tr2, va2) = ds.split_stratified(0.2, 7).unwrap();
    assert_eq!((tr.paths.clone(), va.paths.clone()), (tr2.paths, va2.paths));
    let (_, va3) = ds.split_stratified(0.2, 8).unwrap();
    assert_ne!(va.paths, va3.paths);
    for bad in [0.0, 1.0, -0.1, 1.5] {
        assert!(ds.split_stratified(bad, 7).is_err());
    }
    assert!(ds.check_classes(&["a".into(), "b".into()]).is_ok());
    assert!(matches!(
        ds.check_classes(&["a".into(), "c".into()]),
        Err(DataError::ClassMismatch { .. })
    ));
}

#[test]
fn stratified_fraction_is_nested_per_class_and_checked() {
    let d = tempfile::tempdir().unwrap();
    tree(d.path(), &[("a", 10), ("b", 5)]);
    let (ds, _) = load_folder(d.path()).unwrap();
    let half = ds.stratified_fraction(0.5, 3).unwrap();
    assert_eq!(half.class_counts(), vec![5, 3]); // round(2.5) = 3
    let most = ds.stratified_fraction(0.8, 3).unwrap();
    assert_eq!(most.class_counts(), vec![8, 4]);
    // Nested: what 0.5 keeps, 0.8 keeps too; the same seed keeps the same images.
    assert!(half.paths.iter().all(|p| most.paths.contains(p)));
    assert_eq!(ds.stratified_fraction(0.5, 3).unwrap().paths, half.paths);
    assert_ne!(ds.stratified_fraction(0.5, 4).unwrap().paths, half.paths);
    assert_eq!(ds.stratified_fraction(1.0, 3).unwrap().paths, ds.paths);
    // At least one image of each class survives.
    assert_eq!(
        ds.stratified_fraction(0.01, 3).unwrap().class_counts(),
        vec![1, 1]
    );
    for bad in [0.0, -0.1, 1.5, f64::NAN] {
        assert!(ds.stratified_fraction(bad, 3).is_err(), "{bad}");
    }
}

fn meta(classes: usize) -> ModelMeta {
    ModelMeta {
        format: String::new(),
        format_version: 0,
        arch: Arch::mlp(classes, 8),
        classes: (0..classes).map(|i| format!("c{i}")).collect(),
        normalization: Normalization::default(),
        num_params: 0,
        weights_file: String::new(),
        weights_sha256: String::new(),
        train_config: serde_json::Value::Null,
        history: vec![],
        best_epoch: None,
        final_metrics: serde_json::Value::Null,
    }
}

#[test]
fn model_dir_round_trip_and_checks() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("m");
    let net = Net::init(Arch::mlp(3, 8), &mut Rng::new(3)).unwrap();
    let saved = SavedModel::save(&net, meta(3), &dir).unwrap();
    assert_eq!(saved.weights_sha256.len(), 64);
    let m = SavedModel::load(&dir).unwrap();
    assert_eq!(m.net.params, net.params);
    assert_eq!(m.meta.normalization.scale, 1.0 / 255.0);
    // Overwriting is atomic and leaves no temp directories behind.
    SavedModel::save(&net, meta(3), &dir).unwrap();
    let leftovers: Vec<_> = fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");

    // Tampered weights: hash error.
    let w = dir.join("weights.safetensors");
    let mut bytes = fs::read(&w).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    fs::write(&w, &bytes).unwrap();
    assert!(matches!(
        SavedModel::load(&dir),
        Err(ModelError::Hash { .. })
    ));

    // Other format version: version error.
    SavedModel::save(&net, meta(3), &dir).unwrap();
    let j = dir.join("model.json");
    let text = fs::read_to_string(&j)
        .unwrap()
        .replace("\"format_version\": 1", "\"format_version\": 99");
    fs::write(&j, text).unwrap();
    assert!(matches!(
        SavedModel::load(&dir),
        Err(ModelError::Version {
            found_version: 99,
            ..
        })
    ));

    // Shapes in model.json that do not match the weights: tensor error.
    SavedModel::save(&net, meta(3), &dir).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&fs::read_to_string(&j).unwrap()).unwrap();
    v["arch"]["layers"][1]["outputs"] = serde_json::json!(9);
    v["arch"]["layers"][3]["inputs"] = serde_json::json!(9);
    fs::write(&j, serde_json::to_string(&v).unwrap()).unwrap();
    let e = SavedModel::load(&dir).unwrap_err();
    assert!(matches!(e, ModelError::Tensor { .. }), "{e}");
}

#[test]
fn load_matching_reinitialises_a_different_head() {
    let a = Net::init(Arch::paper_cnn(3, 16, 0.5), &mut Rng::new(1)).unwrap();
    let mut b = Net::init(Arch::paper_cnn(5, 16, 0.5), &mut Rng::new(2)).unwrap();
    let before = b.params.last().unwrap().clone();
    let loaded = b.load_matching(&a);
    assert_eq!(loaded.len(), b.params.len() - 2); // all but the classifier weight and bias
    assert_eq!(b.params[0], a.params[0]);
    assert_eq!(b.params.last().unwrap(), &before);
}
