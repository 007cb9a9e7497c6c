//! The layers of `{{ model_name }}`: each layer's parameters as constants,
//! and the schedule, calling kernels specialised for them.

{{ uses }}use crate::Observer;
{% for l in layers %}
// layer {{ l.index }}: {{ l.op }} {{ l.comment }}
{{ l.consts }}
{%- endfor %}

/// Runs every layer in the planned order; outputs overwrite inputs as the
/// plan allows.
pub(crate) fn run<O: Observer + ?Sized>(arena: &mut [i8; crate::ARENA_BYTES], observer: &mut O) {
{%- for l in layers %}
    observer.layer_start({{ l.index }});
    {{ l.call }}
    observer.layer_done({{ l.index }}, &arena[{{ l.out_offset }}..{{ l.out_offset + l.out_bytes }}]);
{%- endfor %}
    observer.layer_start(crate::LAYERS);
}
