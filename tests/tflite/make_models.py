"""Makes the .tflite fixtures of tests/tflite.rs and their oracle outputs.

Small Keras models (random weights, fixed seeds) converted by the TensorFlow
Lite converter with full-integer int8 quantization, then run by TensorFlow
Lite Micro (the `tflite-micro` pip package) on seeded random int8 inputs:
TFLM's outputs are the oracle the Rust tests compare with, so running the
tests needs no TensorFlow. Run once, commit the files:

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install tensorflow-cpu tflite-micro
    /tmp/venv/bin/python tests/tflite/make_models.py tests/fixtures/tflite

Tested with tensorflow-cpu 2.21.0 and tflite-micro 0.dev20261023182759.
"""

import sys
from pathlib import Path

import numpy as np
import keras
import tensorflow as tf
from tflite_micro.python.tflite_micro import runtime

L = tf.keras.layers
K = keras.ops
CASES = 8


def cnn():
    """CONV_2D (SAME, stride 2, fused ReLU6), DEPTHWISE_CONV_2D with depth
    multiplier 2, MAX_POOL_2D, CONCATENATION, AVERAGE_POOL_2D (SAME),
    FULLY_CONNECTED, SOFTMAX."""
    x = L.Input((24, 20, 3), batch_size=1)
    a = L.Conv2D(8, 3, strides=2, padding="same", activation="relu6")(x)
    b = L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu")(a)
    c = L.Conv2D(16, 1)(a)
    y = L.Concatenate()([b, c])
    y = L.MaxPool2D(2)(y)
    y = L.AveragePooling2D(3, strides=2, padding="same")(y)
    y = L.Flatten()(y)
    y = L.Dense(10)(y)
    y = L.Softmax()(y)
    return tf.keras.Model(x, y), (24, 20, 3)


def elementwise():
    """ADD (broadcast), MUL, LOGISTIC, TANH, LEAKY_RELU, HARD_SWISH, PAD,
    RESHAPE, STRIDED_SLICE, TRANSPOSE, RESIZE_NEAREST_NEIGHBOR,
    DEPTHWISE_CONV_2D with VALID padding and dilation."""
    x = L.Input((12, 12, 4), batch_size=1)
    a = L.Conv2D(6, 3, padding="same")(x)
    s = K.sigmoid(a)
    t = K.tanh(a)
    m = L.Multiply()([s, t])
    y = L.Add()([m, a])
    y = L.LeakyReLU(negative_slope=0.2)(y)
    y = K.hard_swish(y)
    y = L.ZeroPadding2D(((1, 0), (2, 1)))(y)
    y = L.DepthwiseConv2D(3, dilation_rate=2, padding="valid")(y)
    y = K.image.resize(y, (16, 12), interpolation="nearest")
    y = y[:, 1:13:2, :, :]
    y = K.transpose(y, [0, 2, 1, 3])
    z = L.AveragePooling2D((12, 6))(y)
    z = L.Reshape((6,))(z)
    z = L.Dense(5, activation="tanh")(z)
    return tf.keras.Model(x, z), (12, 12, 4)


def mean():
    """MEAN over H and W (keep_dims false) into another scale, after a
    CONV_2D with VALID padding and stride 2, then FULLY_CONNECTED."""
    x = L.Input((10, 14, 3), batch_size=1)
    y = L.Conv2D(12, 3, strides=2, activation="relu")(x)
    y = K.mean(y, axis=[1, 2])
    y = L.Dense(4)(y)
    return tf.keras.Model(x, y), (10, 14, 3)


def mlp():
    """FULLY_CONNECTED on a 3-D input (keep_num_dims), ReLU, Logistic out."""
    x = L.Input((4, 16), batch_size=1)
    y = L.Dense(24, activation="relu")(x)
    y = L.Dense(8)(y)
    y = L.Flatten()(y)
    y = L.Dense(3, activation="sigmoid")(y)
    return tf.keras.Model(x, y), (4, 16)


def convert(model, shape, rng, int16x8=False):
    """Full-integer quantization with int8 input and output (int16x8:
    16-bit activations, float input and output)."""

    def representative():
        for _ in range(64):
            yield [rng.normal(0, 1, (1, *shape)).astype(np.float32)]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    if int16x8:
        conv.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        return conv.convert()
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    return conv.convert()


def main(out):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name, make in [("cnn", cnn), ("elementwise", elementwise), ("mlp", mlp), ("mean", mean)]:
        tf.keras.utils.set_random_seed(7)
        rng = np.random.default_rng(11)
        model, shape = make()
        flat = convert(model, shape, rng)
        (out / f"{name}.tflite").write_bytes(flat)
        tflm = runtime.Interpreter.from_bytes(flat)
        inputs = rng.integers(-128, 128, (CASES, 1, *shape), dtype=np.int8)
        outputs = []
        for x in inputs:
            tflm.set_input(x, 0)
            tflm.invoke()
            outputs.append(tflm.get_output(0).copy())
        np.save(out / f"{name}_inputs_int8.npy", inputs)
        np.save(out / f"{name}_tflm_outputs_int8.npy", np.stack(outputs))
        print(name, len(flat), "bytes, output", outputs[0].shape, outputs[0].dtype)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/tflite")
