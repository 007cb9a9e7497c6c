//! tract as hybridc's float oracle: static facts of every ONNX value (shape,
//! constant-folded value) and float runs that expose chosen intermediates.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use tract_onnx::pb;
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;

/// What tract knows statically about a value.
pub struct Fact {
    pub shape: Option<Vec<usize>>,
    pub konst: Option<Arc<Tensor>>,
}

fn typed(model: &pb::ModelProto) -> Result<TypedModel> {
    let m = tract_onnx::onnx()
        .model_for_proto_model(model)
        .map_err(|e| anyhow!("tract cannot load the float model: {e:#}"))?;
    m.into_typed().map_err(|e| anyhow!("tract cannot infer the model's types and shapes: {e:#}"))
}

/// Facts of every labelled value (ONNX value names). Values tract's type
/// inference computes from the static input shape (shape arithmetic:
/// Shape, Gather, Slice, Concat, Div, Cast, ConstantOfShape...) are
/// constants, under their ONNX names; the typed model adds the shapes (its
/// own folding may rename or drop those values).
pub fn facts(model: &pb::ModelProto) -> Result<HashMap<String, Fact>> {
    crate::guard::no_panic("tract's analysis", || facts_of(model))
}

fn facts_of(model: &pb::ModelProto) -> Result<HashMap<String, Fact>> {
    let mut out = HashMap::new();
    let mut inference = tract_onnx::onnx()
        .model_for_proto_model(model)
        .map_err(|e| anyhow!("tract cannot load the float model: {e:#}"))?;
    // A partial analysis still gives what it proved; into_typed below reports errors.
    let _ = inference.analyse(false);
    for node in inference.nodes() {
        for (i, f) in node.outputs.iter().enumerate() {
            let (Some(label), Some(v)) = (inference.outlet_label(OutletId::new(node.id, i)), f.fact.value.concretize()) else {
                continue;
            };
            out.insert(label.to_string(), Fact { shape: Some(v.shape().to_vec()), konst: Some(v) });
        }
    }
    let t = typed(model)?;
    for node in t.nodes() {
        for (i, f) in node.outputs.iter().enumerate() {
            let outlet = OutletId::new(node.id, i);
            // Graph inputs are source nodes named after the input.
            let source = t.input_outlets().is_ok_and(|ins| ins.contains(&outlet));
            let Some(label) = t.outlet_label(outlet).or(source.then_some(node.name.as_str())) else { continue };
            let shape = f.fact.shape.as_concrete().map(|s| s.to_vec());
            let fact = out.entry(label.to_string()).or_insert(Fact { shape: None, konst: None });
            fact.shape = shape.or(fact.shape.take());
            fact.konst = f.fact.konst.clone().or(fact.konst.take());
        }
    }
    Ok(out)
}

/// A float model that returns the values of chosen ONNX tensors.
pub struct FloatRunner {
    plan: Arc<TypedSimplePlan>,
    pub input_shape: Vec<usize>,
    pub outputs: Vec<String>,
}

impl FloatRunner {
    pub fn new(model: &pb::ModelProto, outputs: &[String]) -> Result<FloatRunner> {
        crate::guard::no_panic("tract's float model", || Self::build(model, outputs))
    }

    fn build(model: &pb::ModelProto, outputs: &[String]) -> Result<FloatRunner> {
        let mut t = typed(model)?;
        let mut outlets = vec![];
        for name in outputs {
            let o = t.find_outlet_label(name).ok_or_else(|| anyhow!("tract has no value named '{name}'"))?;
            outlets.push(o);
        }
        t.select_output_outlets(&outlets)?;
        let input = t.input_outlets()?[0];
        let input_shape = t
            .outlet_fact(input)?
            .shape
            .as_concrete()
            .map(|s| s.to_vec())
            .context("the float model's input shape is not static")?;
        let plan = t.into_runnable().map_err(|e| anyhow!("tract cannot plan the float model: {e}"))?;
        Ok(FloatRunner { plan, input_shape, outputs: outputs.to_vec() })
    }

    /// Runs one batch-1 input; returns each chosen tensor flattened.
    pub fn run(&self, input: &[f32]) -> Result<Vec<Vec<f32>>> {
        let n: usize = self.input_shape.iter().product();
        if input.len() != n {
            bail!("float input has {} values, the model needs {n}", input.len());
        }
        let x = Tensor::from_shape(&self.input_shape, input)?;
        let out = crate::guard::no_panic("tract's float run", || Ok(self.plan.run(tvec!(x.into()))?))?;
        out.iter()
            .map(|t| {
                let t = t.cast_to::<f32>()?;
                Ok(t.to_plain_array_view::<f32>()?.iter().copied().collect())
            })
            .collect()
    }
}
