//! cnnfpga -> ONNX: our float layer list as an opset-17 NCHW graph (input `input` `[N, 3, 64, 64]`
//! = pixel / 255, output `logits` `[N, classes]`), weights converted from our HWC layouts, class
//! names and the input convention in `metadata_props`. Dropout is left out (identity at inference).

use prost::Message;

use super::proto::{
    attribute_proto::AttributeType, tensor_proto::DataType, tensor_shape_proto, type_proto,
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto,
    TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};
use super::{
    OnnxError, EXPORT_OPSET, INPUT_CONVENTION, META_CLASSES, META_INPUT, META_OUTPUT,
    OUTPUT_CONVENTION, PRODUCER,
};
use crate::layers::LayerSpec;
use crate::model::Net;

/// Options of [`export_model`].
#[derive(Clone, Debug, Default)]
pub struct ExportOptions {
    /// Free text stored as the graph's `doc_string` (e.g. where the model came from).
    pub doc: String,
}

fn attr_ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Ints as i32),
        ints: v.to_vec(),
        ..Default::default()
    }
}

fn attr_int(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Int as i32),
        i: Some(v),
        ..Default::default()
    }
}

fn tensor(name: &str, dims: &[usize], data: &[f32]) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: Some(DataType::Float as i32),
        raw_data: Some(data.iter().flat_map(|v| v.to_le_bytes()).collect()),
        ..Default::default()
    }
}

fn value_info(name: &str, dims: &[Option<i64>]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| tensor_shape_proto::Dimension {
            value: Some(match d {
                Some(v) => tensor_shape_proto::dimension::Value::DimValue(*v),
                None => tensor_shape_proto::dimension::Value::DimParam("N".into()),
            }),
            ..Default::default()
        })
        .collect();
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(DataType::Float as i32),
                shape: Some(TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn node(
    op: &str,
    name: String,
    inputs: Vec<String>,
    output: String,
    attrs: Vec<AttributeProto>,
) -> NodeProto {
    NodeProto {
        name: Some(name),
        op_type: Some(op.into()),
        input: inputs,
        output: vec![output],
        attribute: attrs,
        ..Default::default()
    }
}

/// Serialises `net` as an ONNX model (see the module doc for the conventions).
pub fn export_model(
    net: &Net,
    classes: &[String],
    opts: &ExportOptions,
) -> Result<Vec<u8>, OnnxError> {
    let shapes = net.arch.validate()?;
    let [h0, w0, c0] = net.arch.input;
    let mut nodes = Vec::new();
    let mut inits = Vec::new();
    let mut cur = "input".to_string();
    let mut shape = net.arch.input;
    // [h, w, c] of the spatial tensor the last Flatten turned into a vector (ONNX orders it CHW).
    let mut flattened: Option<[usize; 3]> = None;
    let mut k = 0; // parameter index
    let n_layers = net.arch.layers.len();
    for (i, l) in net.arch.layers.iter().enumerate() {
        let out = if i + 1 == n_layers {
            "logits".to_string()
        } else {
            format!("layers.{i}.{}", l.op())
        };
        match *l {
            LayerSpec::Conv2d {
                in_ch,
                out_ch,
                kernel,
            } => {
                let w = &net.params[k].value;
                let b = &net.params[k + 1].value;
                k += 2;
                // ours [o, k, k, i] -> ONNX [o, i, k, k]
                let wt = w.view().permuted_axes(ndarray::IxDyn(&[0, 3, 1, 2]));
                let data: Vec<f32> = wt.iter().copied().collect();
                let (wn, bn) = (format!("layers.{i}.weight"), format!("layers.{i}.bias"));
                inits.push(tensor(&wn, &[out_ch, in_ch, kernel, kernel], &data));
                inits.push(tensor(
                    &bn,
                    &[out_ch],
                    b.as_slice().expect("standard layout"),
                ));
                let kk = kernel as i64;
                nodes.push(node(
                    "Conv",
                    format!("layers.{i}.conv2d"),
                    vec![cur.clone(), wn, bn],
                    out.clone(),
                    vec![
                        attr_ints("kernel_shape", &[kk, kk]),
                        attr_ints("strides", &[1, 1]),
                        attr_ints("pads", &[0, 0, 0, 0]),
                        attr_ints("dilations", &[1, 1]),
                        attr_int("group", 1),
                    ],
                ));
            }
            LayerSpec::Relu => nodes.push(node(
                "Relu",
                format!("layers.{i}.relu"),
                vec![cur.clone()],
                out.clone(),
                vec![],
            )),
            LayerSpec::MaxPool2 => nodes.push(node(
                "MaxPool",
                format!("layers.{i}.max_pool2"),
                vec![cur.clone()],
                out.clone(),
                vec![
                    attr_ints("kernel_shape", &[2, 2]),
                    attr_ints("strides", &[2, 2]),
                    attr_ints("pads", &[0, 0, 0, 0]),
                    attr_int("ceil_mode", 0),
                ],
            )),
            LayerSpec::Flatten => {
                flattened = Some(shape);
                nodes.push(node(
                    "Flatten",
                    format!("layers.{i}.flatten"),
                    vec![cur.clone()],
                    out.clone(),
                    vec![attr_int("axis", 1)],
                ));
            }
            LayerSpec::Dense { inputs, outputs } => {
                let w = &net.params[k].value;
                let b = &net.params[k + 1].value;
                k += 2;
                let ws = w.as_slice().expect("standard layout");
                let data: Vec<f32> = match flattened.take() {
                    Some([h, wd, c]) => {
                        // ONNX column ch*h*w + p takes our column p*c + ch.
                        let mut d = vec![0.0f32; outputs * inputs];
                        for o in 0..outputs {
                            for p in 0..h * wd {
                                for ch in 0..c {
                                    d[o * inputs + ch * h * wd + p] = ws[o * inputs + p * c + ch];
                                }
                            }
                        }
                        d
                    }
                    None => ws.to_vec(),
                };
                let (wn, bn) = (format!("layers.{i}.weight"), format!("layers.{i}.bias"));
                inits.push(tensor(&wn, &[outputs, inputs], &data));
                inits.push(tensor(
                    &bn,
                    &[outputs],
                    b.as_slice().expect("standard layout"),
                ));
                nodes.push(node(
                    "Gemm",
                    format!("layers.{i}.dense"),
                    vec![cur.clone(), wn, bn],
                    out.clone(),
                    vec![attr_int("transB", 1)],
                ));
            }
            LayerSpec::Dropout { .. } => {
                shape = shapes[i];
                continue; // identity at inference: not exported
            }
        }
        shape = shapes[i];
        cur = out;
    }
    if cur != "logits" {
        return Err(OnnxError::Graph(
            "the last layer must be the dense classifier".into(),
        ));
    }
    let n_classes = net.arch.classes();
    if classes.len() != n_classes {
        return Err(OnnxError::Graph(format!(
            "{} class names for {n_classes} outputs",
            classes.len()
        )));
    }
    let graph = GraphProto {
        name: Some(net.arch.name.clone()),
        node: nodes,
        initializer: inits,
        input: vec![value_info(
            "input",
            &[None, Some(c0 as i64), Some(h0 as i64), Some(w0 as i64)],
        )],
        output: vec![value_info("logits", &[None, Some(n_classes as i64)])],
        doc_string: (!opts.doc.is_empty()).then(|| opts.doc.clone()),
        ..Default::default()
    };
    let meta = |k: &str, v: String| StringStringEntryProto {
        key: Some(k.into()),
        value: Some(v),
    };
    let model = ModelProto {
        ir_version: Some(8), // IR 8 goes with opset 17
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(EXPORT_OPSET),
        }],
        producer_name: Some(PRODUCER.into()),
        producer_version: Some(env!("CARGO_PKG_VERSION").into()),
        doc_string: Some(format!(
            "cnnfpga float model. Input `input`: {INPUT_CONVENTION}. Output `logits`: {OUTPUT_CONVENTION}."
        )),
        graph: Some(graph),
        metadata_props: vec![
            meta(
                META_CLASSES,
                serde_json::to_string(classes).expect("strings serialise"),
            ),
            meta(META_INPUT, INPUT_CONVENTION.into()),
            meta(META_OUTPUT, OUTPUT_CONVENTION.into()),
        ],
        ..Default::default()
    };
    Ok(model.encode_to_vec())
}
