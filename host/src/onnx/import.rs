//! ONNX -> cnnfpga: walks the graph as a single chain from its one input to its one output and
//! maps every node onto our layer list, converting weights from NCHW to our HWC layouts (see the
//! parent module). Anything the layer set cannot represent exactly is an error naming the node,
//! the operator and the attribute.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path};

use ndarray::{ArrayD, IxDyn};
use prost::Message;

use super::proto::{
    attribute_proto::AttributeType, tensor_proto::DataLocation, tensor_proto::DataType,
    tensor_shape_proto::dimension, type_proto, AttributeProto, ModelProto, NodeProto, TensorProto,
};
use super::{
    io_err, read_bounded, OnnxError, MAX_FILE_BYTES, MAX_OPSET, MAX_TENSOR_ELEMENTS, MIN_OPSET,
};
use super::{META_CLASSES, PRODUCER};
use crate::layers::LayerSpec;
use crate::model::{Arch, Net, Param};

/// A network read from ONNX.
#[derive(Clone, Debug)]
pub struct Imported {
    /// The network (architecture named `onnx-import`) with weights in our layouts.
    pub net: Net,
    /// Class names from the model's `cnnfpga.classes` metadata, if present.
    pub classes: Option<Vec<String>>,
    /// Default-domain opset of the file.
    pub opset: i64,
    /// `producer_name producer_version` of the file.
    pub producer: String,
    /// Operators that were dropped because they are the identity at inference (Dropout,
    /// Identity) or a final Softmax, as `name (op)`.
    pub dropped: Vec<String>,
}

/// Reads an `.onnx` file; external data is looked up relative to its folder.
pub fn import_file(path: &Path) -> Result<Imported, OnnxError> {
    let bytes = read_bounded(path, MAX_FILE_BYTES)?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    import_bytes(&bytes, &dir)
}

/// Decodes ONNX bytes; `base_dir` is where external data files are looked up.
pub fn import_bytes(bytes: &[u8], base_dir: &Path) -> Result<Imported, OnnxError> {
    let model = ModelProto::decode(bytes)?;
    Importer::new(&model, base_dir)?.run()
}

/// Where the chain's current tensor stands.
#[derive(Clone, Copy, Debug)]
struct Pending {
    /// `[h, w, c]` of the spatial tensor a flatten turned into a vector, until the dense layer
    /// that consumes it has its columns permuted.
    flattened: Option<[usize; 3]>,
    /// The last layer is a dense layer from `MatMul` whose bias may still come from an `Add`.
    matmul_without_bias: bool,
    /// A `Transpose` to NHWC (perm `[0, 2, 3, 1]`, as Keras models converted by tf2onnx have
    /// before their flatten) is pending: the next node must flatten, in our HWC order already.
    nhwc: bool,
}

struct Importer<'a> {
    model: &'a ModelProto,
    base_dir: &'a Path,
    opset: i64,
    /// Initializers and `Constant` outputs by name.
    consts: HashMap<String, &'a TensorProto>,
    /// Every tensor name consumed by a node or listed as a graph output.
    used: HashSet<String>,
    layers: Vec<LayerSpec>,
    params: Vec<ArrayD<f32>>,
    shape: [usize; 3],
    dropped: Vec<String>,
}

fn node_label(n: &NodeProto, index: usize) -> String {
    match n.name() {
        "" => format!("#{index}"),
        name => format!("`{name}`"),
    }
}

impl<'a> Importer<'a> {
    fn new(model: &'a ModelProto, base_dir: &'a Path) -> Result<Self, OnnxError> {
        let mut opset = None;
        for o in &model.opset_import {
            if matches!(o.domain(), "" | "ai.onnx") {
                opset = Some(o.version());
            }
        }
        let opset = opset.ok_or_else(|| {
            OnnxError::Graph(
                "no default-domain (ai.onnx) opset_import; is this an ONNX model?".into(),
            )
        })?;
        if !(MIN_OPSET..=MAX_OPSET).contains(&opset) {
            return Err(OnnxError::Graph(format!(
                "opset {opset} is not supported (supported: {MIN_OPSET}..={MAX_OPSET})"
            )));
        }
        let g = model
            .graph
            .as_ref()
            .ok_or_else(|| OnnxError::Graph("the model has no graph".into()))?;
        let mut consts = HashMap::new();
        for t in &g.initializer {
            consts.insert(t.name().to_string(), t);
        }
        if !g.sparse_initializer.is_empty() {
            return Err(OnnxError::Graph(
                "sparse initializers are not supported".into(),
            ));
        }
        let mut used: HashSet<String> = g.output.iter().map(|o| o.name().to_string()).collect();
        for n in &g.node {
            used.extend(n.input.iter().cloned());
        }
        Ok(Importer {
            model,
            base_dir,
            opset,
            consts,
            used,
            layers: Vec::new(),
            params: Vec::new(),
            shape: [0; 3],
            dropped: Vec::new(),
        })
    }

    fn run(mut self) -> Result<Imported, OnnxError> {
        let g = self.model.graph.as_ref().expect("checked in new");
        // The one data input: graph inputs that are not initializers.
        let inputs: Vec<_> = g
            .input
            .iter()
            .filter(|i| !self.consts.contains_key(i.name()))
            .collect();
        let [input] = inputs.as_slice() else {
            return Err(OnnxError::Graph(format!(
                "{} data inputs, cnnfpga needs exactly one image input",
                inputs.len()
            )));
        };
        self.shape = input_shape(input)?;
        let mut cur = input.name().to_string();
        let mut pending = Pending {
            flattened: None,
            matmul_without_bias: false,
            nhwc: false,
        };
        let mut softmax_at: Option<usize> = None;
        for (index, n) in g.node.iter().enumerate() {
            let label = node_label(n, index);
            let op = n.op_type().to_string();
            let unsupported = |what: String| OnnxError::Unsupported {
                node: label.clone(),
                op: op.clone(),
                what,
            };
            if !matches!(n.domain(), "" | "ai.onnx") {
                return Err(unsupported(format!(
                    "operator domain `{}` is not supported (only the default ONNX domain)",
                    n.domain()
                )));
            }
            if op == "Constant" {
                let [out] = n.output.as_slice() else {
                    return Err(unsupported("expected one output".into()));
                };
                let t = match n.attribute.as_slice() {
                    [a] if a.name() == "value" && a.t.is_some() => a.t.as_ref().unwrap(),
                    _ => {
                        return Err(unsupported(
                            "only a `value` tensor attribute is supported".into(),
                        ))
                    }
                };
                self.consts.insert(out.clone(), t);
                continue;
            }
            if let Some(s) = softmax_at {
                return Err(OnnxError::Unsupported {
                    node: node_label(&g.node[s], s),
                    op: "Softmax".into(),
                    what:
                        "is supported only as the last node (it is dropped: cnnfpga outputs logits)"
                            .into(),
                });
            }
            // Every node continues the chain: its data input is the current tensor.
            let data_pos = n.input.iter().position(|i| *i == cur);
            let Some(data_pos) = data_pos else {
                return Err(unsupported(format!(
                    "does not consume the chain's current tensor `{cur}` (inputs {:?}): cnnfpga \
                     imports a single chain from the input to the output, without branches or \
                     shape computations",
                    n.input
                )));
            };
            if data_pos != 0 && op != "Add" {
                return Err(unsupported(format!(
                    "the chain tensor `{cur}` must be the first input"
                )));
            }
            let [out, extra @ ..] = n.output.as_slice() else {
                return Err(unsupported("has no output".into()));
            };
            for e in extra {
                if !e.is_empty() && self.used.contains(e) {
                    return Err(unsupported(format!(
                        "its extra output `{e}` is used; only the first output is supported"
                    )));
                }
            }
            let ctx = NodeCtx {
                node: n,
                label: &label,
                op: &op,
            };
            let was_matmul = std::mem::take(&mut pending.matmul_without_bias);
            if pending.nhwc && !matches!(op.as_str(), "Flatten" | "Reshape") {
                return Err(unsupported(
                    "follows a Transpose to NHWC: only a Flatten/Reshape may follow that".into(),
                ));
            }
            match op.as_str() {
                "Conv" => self.conv(&ctx)?,
                "Relu" => {
                    ctx.only_attrs(&[])?;
                    ctx.inputs(1)?;
                    self.push(LayerSpec::Relu, &ctx)?;
                }
                "MaxPool" => self.maxpool(&ctx)?,
                "Flatten" => {
                    ctx.inputs(1)?;
                    for a in ctx.attrs(&["axis"])? {
                        let axis = ctx.int(a)?;
                        if axis != 1 {
                            return Err(
                                ctx.bad_attr(a, format!("axis = {axis}, only 1 is supported"))
                            );
                        }
                    }
                    self.flatten(&ctx, &mut pending)?;
                }
                "Reshape" => {
                    ctx.inputs(2)?;
                    let mut allowzero = 0;
                    for a in ctx.attrs(&["allowzero"])? {
                        allowzero = ctx.int(a)?;
                    }
                    let target = self.const_ints(&n.input[1], &ctx)?;
                    let total = self.shape.iter().product::<usize>() as i64;
                    // With allowzero = 1 a 0 is a literal empty dimension, not "copy the batch".
                    let batch_ok = |b: i64| b == 1 || b == -1 || (b == 0 && allowzero == 0);
                    let ok = matches!(target.as_slice(), [b, f] if batch_ok(*b) && (*f == -1 || *f == total));
                    if !ok {
                        return Err(unsupported(format!(
                            "shape {target:?} is not a flatten to [batch, {total}] (supported: \
                             [-1 | 0 | 1, -1 | {total}])"
                        )));
                    }
                    self.flatten(&ctx, &mut pending)?;
                }
                "Gemm" => self.gemm(&ctx, &mut pending)?,
                "MatMul" => {
                    ctx.only_attrs(&[])?;
                    ctx.inputs(2)?;
                    let b = self.initializer(&n.input[1], &ctx)?;
                    let w = to_matrix(&b, &n.input[1])?.reversed_axes(); // [in, out] -> [out, in]
                    let outputs = w.shape()[0];
                    self.dense(w, ArrayD::zeros(IxDyn(&[outputs])), &ctx, &mut pending)?;
                    pending.matmul_without_bias = true;
                }
                "Add" => {
                    ctx.only_attrs(&[])?;
                    ctx.inputs(2)?;
                    if !was_matmul {
                        return Err(unsupported(
                            "Add is supported only as the bias of the MatMul right before it"
                                .into(),
                        ));
                    }
                    let other = &n.input[1 - data_pos];
                    let b = self.initializer(other, &ctx)?;
                    let outputs = self.shape[2];
                    let dims: Vec<usize> = b.shape().to_vec();
                    if !(dims == [outputs] || dims == [1, outputs]) {
                        return Err(unsupported(format!(
                            "bias `{other}` has shape {dims:?}, expected [{outputs}]"
                        )));
                    }
                    let bias = b.into_shape_with_order(IxDyn(&[outputs])).expect("checked");
                    *self.params.last_mut().expect("matmul pushed") = bias;
                }
                "Transpose" => {
                    ctx.inputs(1)?;
                    for a in ctx.attrs(&["perm"])? {
                        let v = ctx.ints(a)?;
                        if v != [0, 2, 3, 1] {
                            return Err(ctx.bad_attr(
                                a,
                                format!("{v:?}: only [0, 2, 3, 1] (NCHW -> NHWC) right before a flatten is supported"),
                            ));
                        }
                    }
                    if n.attribute.is_empty() {
                        return Err(unsupported("attribute `perm` is required".into()));
                    }
                    pending.nhwc = true;
                }
                "Dropout" => {
                    // Identity at inference. Training mode (opset 12+: third input) must be off.
                    ctx.attrs(&["ratio", "seed", "is_test"])?;
                    if let Some(t) = n.input.get(2).filter(|s| !s.is_empty()) {
                        let v = self.const_ints(t, &ctx).ok();
                        if v.as_deref() != Some(&[0]) {
                            return Err(unsupported(format!(
                                "training_mode input `{t}` must be a constant false"
                            )));
                        }
                    }
                    self.dropped.push(format!("{label} (Dropout)"));
                }
                "Identity" => {
                    ctx.only_attrs(&[])?;
                    ctx.inputs(1)?;
                    self.dropped.push(format!("{label} (Identity)"));
                }
                "Softmax" => {
                    ctx.inputs(1)?;
                    for a in ctx.attrs(&["axis"])? {
                        let axis = ctx.int(a)?;
                        if axis != 1 && axis != -1 {
                            return Err(ctx.bad_attr(
                                a,
                                format!(
                                    "axis = {axis}, only the class axis (1 or -1) is supported"
                                ),
                            ));
                        }
                    }
                    if self.shape[0] != 1 || self.shape[1] != 1 {
                        return Err(unsupported(
                            "Softmax over a spatial tensor is not supported".into(),
                        ));
                    }
                    softmax_at = Some(index);
                    self.dropped
                        .push(format!("{label} (final Softmax: logits are kept)"));
                }
                _ => return Err(unsupported(
                    "operator not supported (supported: Conv, Relu, MaxPool, Flatten, Reshape, \
                         Transpose to NHWC before a flatten, Gemm, MatMul+Add, Dropout, Identity, \
                         final Softmax)"
                        .into(),
                )),
            }
            cur = out.clone();
        }
        let outs: Vec<&str> = g.output.iter().map(|o| o.name()).collect();
        if outs != [cur.as_str()] {
            return Err(OnnxError::Graph(format!(
                "graph outputs {outs:?}: expected exactly the end of the chain `{cur}`"
            )));
        }
        if self.layers.is_empty() {
            return Err(OnnxError::Graph("no layers".into()));
        }
        let arch = Arch {
            name: "onnx-import".into(),
            input: input_shape(input)?,
            layers: self.layers,
        };
        arch.validate()?;
        let params = arch
            .param_specs()
            .into_iter()
            .zip(self.params)
            .map(|((name, _, _), value)| Param { name, value })
            .collect();
        let net = Net { arch, params };
        let classes = metadata_classes(self.model)?;
        Ok(Imported {
            net,
            classes,
            opset: self.opset,
            producer: format!(
                "{} {}",
                self.model.producer_name(),
                self.model.producer_version()
            )
            .trim()
            .to_string(),
            dropped: self.dropped,
        })
    }

    fn push(&mut self, l: LayerSpec, ctx: &NodeCtx) -> Result<(), OnnxError> {
        let s = l
            .output_shape(self.layers.len(), self.shape)
            .map_err(|e| ctx.unsupported(format!("does not fit its input: {e}")))?;
        self.shape = s;
        self.layers.push(l);
        Ok(())
    }

    fn conv(&mut self, ctx: &NodeCtx) -> Result<(), OnnxError> {
        let n = ctx.node;
        if !(2..=3).contains(&n.input.len()) {
            return Err(ctx.unsupported(format!("{} inputs, expected X, W[, B]", n.input.len())));
        }
        let w = self.initializer(&n.input[1], ctx)?;
        let &[o, i, kh, kw] = w.shape() else {
            return Err(ctx.unsupported(format!(
                "weight `{}` has shape {:?}, expected 4-D [out, in, k, k]",
                n.input[1],
                w.shape()
            )));
        };
        if kh != kw {
            return Err(ctx.unsupported(format!(
                "kernel {kh}x{kw}: only square kernels are supported"
            )));
        }
        for a in ctx.attrs(&[
            "kernel_shape",
            "strides",
            "pads",
            "dilations",
            "group",
            "auto_pad",
        ])? {
            match a.name() {
                "kernel_shape" => {
                    let v = ctx.ints(a)?;
                    if v != [kh as i64, kw as i64] {
                        return Err(
                            ctx.bad_attr(a, format!("{v:?} does not match the weight's {kh}x{kw}"))
                        );
                    }
                }
                "strides" => {
                    let v = ctx.ints(a)?;
                    if v.iter().any(|&s| s != 1) {
                        return Err(ctx.bad_attr(a, format!("{v:?}: only stride 1 is supported")));
                    }
                }
                "pads" => {
                    let v = ctx.ints(a)?;
                    if v.iter().any(|&s| s != 0) {
                        return Err(ctx.bad_attr(
                            a,
                            format!("{v:?}: only valid convolution (no padding) is supported"),
                        ));
                    }
                }
                "dilations" => {
                    let v = ctx.ints(a)?;
                    if v.iter().any(|&s| s != 1) {
                        return Err(ctx.bad_attr(a, format!("{v:?}: only dilation 1 is supported")));
                    }
                }
                "group" => {
                    let v = ctx.int(a)?;
                    if v != 1 {
                        return Err(ctx.bad_attr(a, format!("{v}: only group 1 is supported")));
                    }
                }
                "auto_pad" => ctx.auto_pad_valid(a)?,
                _ => unreachable!("filtered by attrs"),
            }
        }
        if i != self.shape[2] {
            return Err(ctx.unsupported(format!(
                "weight has {i} input channels, the incoming tensor has {}",
                self.shape[2]
            )));
        }
        let bias = match n.input.get(2).filter(|s| !s.is_empty()) {
            Some(b) => {
                let b = self.initializer(b, ctx)?;
                if b.shape() != [o] {
                    return Err(
                        ctx.unsupported(format!("bias shape {:?}, expected [{o}]", b.shape()))
                    );
                }
                b
            }
            None => ArrayD::zeros(IxDyn(&[o])),
        };
        // [o, i, k, k] -> [o, k, k, i]
        let w = w
            .permuted_axes(IxDyn(&[0, 2, 3, 1]))
            .as_standard_layout()
            .into_owned();
        self.push(
            LayerSpec::Conv2d {
                in_ch: i,
                out_ch: o,
                kernel: kh,
            },
            ctx,
        )?;
        self.params.push(w);
        self.params.push(bias);
        Ok(())
    }

    fn maxpool(&mut self, ctx: &NodeCtx) -> Result<(), OnnxError> {
        ctx.inputs(1)?;
        let mut kernel_ok = false;
        for a in ctx.attrs(&[
            "kernel_shape",
            "strides",
            "pads",
            "dilations",
            "ceil_mode",
            "storage_order",
            "auto_pad",
        ])? {
            let want: &[i64] = match a.name() {
                "kernel_shape" => {
                    kernel_ok = true;
                    &[2, 2]
                }
                "strides" => &[2, 2],
                "pads" => &[0, 0, 0, 0],
                "dilations" => &[1, 1],
                "ceil_mode" | "storage_order" => {
                    let v = ctx.int(a)?;
                    if v != 0 {
                        return Err(ctx.bad_attr(a, format!("{v}: only 0 is supported")));
                    }
                    continue;
                }
                "auto_pad" => {
                    ctx.auto_pad_valid(a)?;
                    continue;
                }
                _ => unreachable!("filtered by attrs"),
            };
            let v = ctx.ints(a)?;
            if v != want {
                return Err(ctx.bad_attr(
                    a,
                    format!(
                        "{v:?}: only 2x2 max-pooling with stride 2 is supported (want {want:?})"
                    ),
                ));
            }
        }
        // Without `strides` ONNX pools with stride 1.
        let has_strides = ctx.node.attribute.iter().any(|a| a.name() == "strides");
        if !kernel_ok || !has_strides {
            return Err(
                ctx.unsupported("kernel_shape [2, 2] and strides [2, 2] must both be given".into())
            );
        }
        self.push(LayerSpec::MaxPool2, ctx)
    }

    fn flatten(&mut self, ctx: &NodeCtx, pending: &mut Pending) -> Result<(), OnnxError> {
        // After a Transpose to NHWC the flatten is in our order: no permutation.
        let nhwc = std::mem::take(&mut pending.nhwc);
        if self.shape[0] == 1 && self.shape[1] == 1 {
            // Already a vector: nothing to do.
            return Ok(());
        }
        let s = self.shape;
        self.push(LayerSpec::Flatten, ctx)?;
        pending.flattened = (!nhwc).then_some(s);
        Ok(())
    }

    fn gemm(&mut self, ctx: &NodeCtx, pending: &mut Pending) -> Result<(), OnnxError> {
        let n = ctx.node;
        if !(2..=3).contains(&n.input.len()) {
            return Err(ctx.unsupported(format!("{} inputs, expected A, B[, C]", n.input.len())));
        }
        let mut trans_b = 0;
        let has_c = n.input.get(2).is_some_and(|s| !s.is_empty());
        for a in ctx.attrs(&["alpha", "beta", "transA", "transB"])? {
            match a.name() {
                "alpha" => {
                    let v = ctx.float(a)?;
                    if v != 1.0 {
                        return Err(ctx.bad_attr(a, format!("{v}: only 1.0 is supported")));
                    }
                }
                "beta" => {
                    let v = ctx.float(a)?;
                    if v != 1.0 && has_c {
                        return Err(ctx.bad_attr(a, format!("{v}: only 1.0 is supported")));
                    }
                }
                "transA" => {
                    let v = ctx.int(a)?;
                    if v != 0 {
                        return Err(ctx.bad_attr(a, format!("{v}: only 0 is supported")));
                    }
                }
                "transB" => trans_b = ctx.int(a)?,
                _ => unreachable!("filtered by attrs"),
            }
        }
        let b = self.initializer(&n.input[1], ctx)?;
        let b = to_matrix(&b, &n.input[1])?;
        let w = if trans_b != 0 { b } else { b.reversed_axes() };
        let outputs = w.shape()[0];
        let bias = if has_c {
            let c = self.initializer(&n.input[2], ctx)?;
            if !(c.shape() == [outputs] || c.shape() == [1, outputs]) {
                return Err(ctx.unsupported(format!(
                    "bias C has shape {:?}, expected [{outputs}] (broadcasting over the batch)",
                    c.shape()
                )));
            }
            c.into_shape_with_order(IxDyn(&[outputs])).expect("checked")
        } else {
            ArrayD::zeros(IxDyn(&[outputs]))
        };
        self.dense(w, bias, ctx, pending)
    }

    /// Pushes a dense layer from `w [out, in]` in ONNX column order.
    fn dense(
        &mut self,
        w: ndarray::Array2<f32>,
        bias: ArrayD<f32>,
        ctx: &NodeCtx,
        pending: &mut Pending,
    ) -> Result<(), OnnxError> {
        if self.shape[0] != 1 || self.shape[1] != 1 {
            return Err(ctx.unsupported(format!(
                "input is a {}x{}x{} feature map: Flatten (or Reshape) it first",
                self.shape[2], self.shape[0], self.shape[1]
            )));
        }
        let (outputs, inputs) = (w.shape()[0], w.shape()[1]);
        if inputs != self.shape[2] {
            return Err(ctx.unsupported(format!(
                "weight has {inputs} inputs, the incoming vector has {}",
                self.shape[2]
            )));
        }
        let w = match pending.flattened.take() {
            Some([h, wd, c]) => {
                // Our column (y*w + x)*c + ch takes ONNX column ch*h*w + y*w + x.
                let mut out = ndarray::Array2::<f32>::zeros((outputs, inputs));
                for o in 0..outputs {
                    for p in 0..h * wd {
                        for ch in 0..c {
                            out[[o, p * c + ch]] = w[[o, ch * h * wd + p]];
                        }
                    }
                }
                out
            }
            None => w.as_standard_layout().into_owned(),
        };
        self.push(LayerSpec::Dense { inputs, outputs }, ctx)?;
        self.params.push(w.into_dyn());
        self.params.push(bias);
        Ok(())
    }

    /// A float initializer (or Constant) by name, as an array of its dims.
    fn initializer(&self, name: &str, ctx: &NodeCtx) -> Result<ArrayD<f32>, OnnxError> {
        let t = self.consts.get(name).ok_or_else(|| {
            ctx.unsupported(format!(
                "input `{name}` is not an initializer or Constant (weights computed at run time \
                 are not supported)"
            ))
        })?;
        tensor_f32(t, self.base_dir)
    }

    /// An int64 constant (Reshape shape, Dropout training_mode) by name.
    fn const_ints(&self, name: &str, ctx: &NodeCtx) -> Result<Vec<i64>, OnnxError> {
        let t = self.consts.get(name).ok_or_else(|| {
            ctx.unsupported(format!(
                "input `{name}` must be a constant (initializer or Constant node)"
            ))
        })?;
        let n = element_count(t)?;
        if n > 16 {
            return Err(OnnxError::Tensor {
                name: name.into(),
                what: format!("{n} elements, expected a short shape vector"),
            });
        }
        let dt = t.data_type();
        if dt == DataType::Int64 as i32 {
            if !t.int64_data.is_empty() {
                return Ok(t.int64_data.clone());
            }
            let ext;
            let raw = if t.data_location() == DataLocation::External {
                ext = external_bytes(t, n * 8, self.base_dir)?;
                ext.as_slice()
            } else {
                t.raw_data()
            };
            if raw.len() as u64 != n * 8 {
                return Err(OnnxError::Tensor {
                    name: name.into(),
                    what: format!("{} bytes of raw data for {n} int64 values", raw.len()),
                });
            }
            return Ok(raw
                .chunks_exact(8)
                .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")))
                .collect());
        }
        if dt == DataType::Bool as i32 {
            if !t.int32_data.is_empty() {
                return Ok(t.int32_data.iter().map(|&v| v as i64).collect());
            }
            return Ok(t.raw_data().iter().map(|&v| v as i64).collect());
        }
        Err(OnnxError::Tensor {
            name: name.into(),
            what: format!("data type {dt}, expected INT64"),
        })
    }
}

/// The node being converted, for attribute checks and error messages.
struct NodeCtx<'a> {
    node: &'a NodeProto,
    label: &'a str,
    op: &'a str,
}

impl NodeCtx<'_> {
    fn unsupported(&self, what: String) -> OnnxError {
        OnnxError::Unsupported {
            node: self.label.to_string(),
            op: self.op.to_string(),
            what,
        }
    }

    fn bad_attr(&self, a: &AttributeProto, what: String) -> OnnxError {
        self.unsupported(format!("attribute `{}` = {what}", a.name()))
    }

    /// The node's attributes, each of which must be in `known`.
    fn attrs(&self, known: &[&str]) -> Result<&[AttributeProto], OnnxError> {
        for a in &self.node.attribute {
            if !known.contains(&a.name()) {
                return Err(self.unsupported(format!(
                    "attribute `{}` is not supported (supported: {known:?})",
                    a.name()
                )));
            }
            if !a.ref_attr_name().is_empty() {
                return Err(self.unsupported(format!(
                    "attribute `{}` refers to a function attribute",
                    a.name()
                )));
            }
        }
        Ok(&self.node.attribute)
    }

    fn only_attrs(&self, known: &[&str]) -> Result<(), OnnxError> {
        self.attrs(known).map(|_| ())
    }

    fn inputs(&self, n: usize) -> Result<(), OnnxError> {
        if self.node.input.len() != n {
            return Err(self.unsupported(format!("{} inputs, expected {n}", self.node.input.len())));
        }
        Ok(())
    }

    fn int(&self, a: &AttributeProto) -> Result<i64, OnnxError> {
        match a.r#type() {
            AttributeType::Int => Ok(a.i()),
            t => Err(self.bad_attr(a, format!("of type {t:?}, expected INT"))),
        }
    }

    fn float(&self, a: &AttributeProto) -> Result<f32, OnnxError> {
        match a.r#type() {
            AttributeType::Float => Ok(a.f()),
            t => Err(self.bad_attr(a, format!("of type {t:?}, expected FLOAT"))),
        }
    }

    fn ints(&self, a: &AttributeProto) -> Result<Vec<i64>, OnnxError> {
        match a.r#type() {
            AttributeType::Ints => Ok(a.ints.clone()),
            t => Err(self.bad_attr(a, format!("of type {t:?}, expected INTS"))),
        }
    }

    fn auto_pad_valid(&self, a: &AttributeProto) -> Result<(), OnnxError> {
        let v = String::from_utf8_lossy(a.s()).into_owned();
        if v != "NOTSET" && v != "VALID" {
            return Err(self.bad_attr(
                a,
                format!("{v}: only NOTSET or VALID (no padding) is supported"),
            ));
        }
        Ok(())
    }
}

/// `[c, h, w]` of the graph input (rank 4, NCHW, float, any batch) as our `[h, w, c]`.
fn input_shape(input: &super::proto::ValueInfoProto) -> Result<[usize; 3], OnnxError> {
    let name = input.name();
    let bad = |what: String| OnnxError::Graph(format!("input `{name}`: {what}"));
    let Some(type_proto::Value::TensorType(t)) =
        input.r#type.as_ref().and_then(|t| t.value.as_ref())
    else {
        return Err(bad("not a tensor".into()));
    };
    if t.elem_type() != DataType::Float as i32 {
        return Err(bad(format!(
            "element type {}, expected FLOAT",
            t.elem_type()
        )));
    }
    let dims = t
        .shape
        .as_ref()
        .map(|s| s.dim.as_slice())
        .unwrap_or_default();
    let fixed = |d: &super::proto::tensor_shape_proto::Dimension| match d.value {
        Some(dimension::Value::DimValue(v)) => Some(v),
        _ => None,
    };
    let [batch, c, h, w] = dims else {
        return Err(bad(format!("rank {}, expected 4 (NCHW)", dims.len())));
    };
    if let Some(b) = fixed(batch) {
        if b < 1 {
            return Err(bad(format!("batch dimension {b}")));
        }
    }
    let chw: Vec<Option<i64>> = [c, h, w].into_iter().map(fixed).collect();
    let want = [
        3i64,
        crate::model::IMAGE_SIZE as i64,
        crate::model::IMAGE_SIZE as i64,
    ];
    if chw != want.map(Some) {
        return Err(bad(format!(
            "shape [N, {}] must be [N, 3, {s}, {s}]: cnnfpga feeds 64x64 RGB images, pixel/255, NCHW",
            chw.iter()
                .map(|d| d.map_or("?".to_string(), |v| v.to_string()))
                .collect::<Vec<_>>()
                .join(", "),
            s = crate::model::IMAGE_SIZE
        )));
    }
    Ok([want[1] as usize, want[2] as usize, want[0] as usize])
}

/// Number of elements of a tensor, bounded by [`MAX_TENSOR_ELEMENTS`].
fn element_count(t: &TensorProto) -> Result<u64, OnnxError> {
    let mut n: u64 = 1;
    for &d in &t.dims {
        if d < 0 {
            return Err(OnnxError::Tensor {
                name: t.name().into(),
                what: format!("negative dimension {d}"),
            });
        }
        n = n.saturating_mul(d as u64);
        if n > MAX_TENSOR_ELEMENTS {
            return Err(OnnxError::TooLarge {
                what: format!("tensor `{}` (dims {:?}) elements", t.name(), t.dims),
                size: n,
                max: MAX_TENSOR_ELEMENTS,
            });
        }
    }
    Ok(n)
}

/// A FLOAT tensor's values (inline `float_data`, `raw_data` or external data) as an array.
pub fn tensor_f32(t: &TensorProto, base_dir: &Path) -> Result<ArrayD<f32>, OnnxError> {
    let name = t.name();
    let bad = |what: String| OnnxError::Tensor {
        name: name.into(),
        what,
    };
    if t.data_type() != DataType::Float as i32 {
        let dt = DataType::try_from(t.data_type())
            .map(|d| format!("{d:?}"))
            .unwrap_or_else(|_| t.data_type().to_string());
        return Err(bad(format!(
            "data type {dt}, only FLOAT (float32) weights are supported"
        )));
    }
    if t.segment.is_some() {
        return Err(bad("segmented tensors are not supported".into()));
    }
    let n = element_count(t)? as usize;
    let data: Vec<f32> = if t.data_location() == DataLocation::External {
        let raw = external_bytes(t, n as u64 * 4, base_dir)?;
        raw.chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
            .collect()
    } else if let Some(raw) = &t.raw_data {
        if raw.len() != n * 4 {
            return Err(bad(format!(
                "{} bytes of raw data for {n} floats",
                raw.len()
            )));
        }
        raw.chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
            .collect()
    } else {
        if t.float_data.len() != n {
            return Err(bad(format!(
                "{} float values for {n} elements",
                t.float_data.len()
            )));
        }
        t.float_data.clone()
    };
    if let Some(i) = data.iter().position(|v| !v.is_finite()) {
        return Err(bad(format!(
            "element {i} is {} (weights must be finite)",
            data[i]
        )));
    }
    let dims: Vec<usize> = t.dims.iter().map(|&d| d as usize).collect();
    ArrayD::from_shape_vec(IxDyn(&dims), data).map_err(|e| bad(e.to_string()))
}

/// The bytes of an external-data tensor: `location` relative to the model's folder (no
/// absolute paths, no `..`, no symlink leading out), `offset` and `length` bounded by the file.
fn external_bytes(t: &TensorProto, want: u64, base_dir: &Path) -> Result<Vec<u8>, OnnxError> {
    let name = t.name();
    let bad = |what: String| OnnxError::ExternalData {
        name: name.into(),
        what,
    };
    let mut location = None;
    let mut offset = 0u64;
    let mut length = None;
    for kv in &t.external_data {
        match kv.key() {
            "location" => location = Some(kv.value().to_string()),
            "offset" => {
                offset = kv
                    .value()
                    .parse()
                    .map_err(|_| bad(format!("offset `{}` is not a number", kv.value())))?
            }
            "length" => {
                length = Some(
                    kv.value()
                        .parse::<u64>()
                        .map_err(|_| bad(format!("length `{}` is not a number", kv.value())))?,
                )
            }
            _ => {} // checksum and others: informative
        }
    }
    let location = location.ok_or_else(|| bad("has no `location`".into()))?;
    let rel = Path::new(&location);
    if rel.is_absolute()
        || !rel
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(bad(format!(
            "location `{location}` leaves the model's folder (only relative paths below it are allowed)"
        )));
    }
    let path = base_dir.join(rel);
    let canon_dir = base_dir
        .canonicalize()
        .map_err(io_err("resolve", base_dir))?;
    let canon = path
        .canonicalize()
        .map_err(|e| bad(format!("file {}: {e}", path.display())))?;
    if !canon.starts_with(&canon_dir) {
        return Err(bad(format!(
            "location `{location}` resolves to {} outside the model's folder",
            canon.display()
        )));
    }
    if let Some(l) = length {
        if l != want {
            return Err(bad(format!(
                "length {l} bytes, the tensor's dims need {want}"
            )));
        }
    }
    let mut f = std::fs::File::open(&canon).map_err(io_err("open", &canon))?;
    let size = f.metadata().map_err(io_err("stat", &canon))?.len();
    if offset.checked_add(want).is_none_or(|end| end > size) {
        return Err(bad(format!(
            "{}: offset {offset} + {want} bytes runs past its end ({size} bytes)",
            canon.display()
        )));
    }
    f.seek(SeekFrom::Start(offset))
        .map_err(io_err("seek", &canon))?;
    let mut buf = vec![0u8; want as usize];
    f.read_exact(&mut buf).map_err(io_err("read", &canon))?;
    Ok(buf)
}

/// A 2-D float array from a tensor that must be a matrix.
fn to_matrix(a: &ArrayD<f32>, name: &str) -> Result<ndarray::Array2<f32>, OnnxError> {
    a.clone()
        .into_dimensionality::<ndarray::Ix2>()
        .map_err(|_| OnnxError::Tensor {
            name: name.into(),
            what: format!("shape {:?}, expected a matrix", a.shape()),
        })
}

/// Class names from the `cnnfpga.classes` metadata (JSON array of strings), if present.
fn metadata_classes(m: &ModelProto) -> Result<Option<Vec<String>>, OnnxError> {
    let Some(kv) = m.metadata_props.iter().find(|kv| kv.key() == META_CLASSES) else {
        return Ok(None);
    };
    let v: Vec<String> = serde_json::from_str(kv.value()).map_err(|e| {
        OnnxError::Graph(format!(
            "metadata `{META_CLASSES}` is not a JSON array of strings: {e}"
        ))
    })?;
    Ok(Some(v))
}

/// Whether an `.onnx` file was written by us (so it may be overwritten).
pub fn is_our_export(path: &Path) -> bool {
    read_bounded(path, MAX_FILE_BYTES)
        .ok()
        .and_then(|b| ModelProto::decode(b.as_slice()).ok())
        .is_some_and(|m| m.producer_name() == PRODUCER)
}
