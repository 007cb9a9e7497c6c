"""Makes the bad TFLite fixtures of tests/bad_input.rs (tests/fixtures/bad/):
an unsupported operator (MAXIMUM), an int16x8 model (16-bit activations),
a float32 model (not supported yet),
a truncated and a corrupted copy of tests/fixtures/tflite/mlp.tflite.

    /tmp/venv/bin/python tests/tflite/make_bad_models.py   (from the repository root)
"""

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from make_models import convert

L = tf.keras.layers
BAD = Path("tests/fixtures/bad")


def main():
    tf.keras.utils.set_random_seed(5)
    x = L.Input((16,), batch_size=1)
    y = L.Dense(8)(x)
    y = keras.ops.maximum(y, L.Dense(8)(x))
    rng = np.random.default_rng(3)
    (BAD / "tflite_unsupported_op.tflite").write_bytes(convert(tf.keras.Model(x, y), (16,), rng))
    x = L.Input((16,), batch_size=1)
    y = L.Dense(8, activation="relu")(x)
    (BAD / "tflite_int16x8.tflite").write_bytes(convert(tf.keras.Model(x, y), (16,), rng, int16x8=True))
    x = L.Input((16,), batch_size=1)
    y = L.Dense(8)(x)
    (BAD / "tflite_float32.tflite").write_bytes(tf.lite.TFLiteConverter.from_keras_model(tf.keras.Model(x, y)).convert())
    good = Path("tests/fixtures/tflite/mlp.tflite").read_bytes()
    (BAD / "tflite_truncated.tflite").write_bytes(good[: len(good) // 3])
    # The root table offset pointed past the end: the verifier must refuse it.
    corrupt = bytearray(good)
    corrupt[0:4] = (len(good) + 1000).to_bytes(4, "little")
    (BAD / "tflite_corrupt.tflite").write_bytes(bytes(corrupt))


if __name__ == "__main__":
    main()
