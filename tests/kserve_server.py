"""A cloud model served by KServe's own Python ModelServer (pip `kserve`), as
a custom predictor usually is: a `kserve.Model` subclass running an ONNX
model with onnxruntime, answering the v2 (Open Inference Protocol) REST API.
Like most custom predictors it publishes no input or output names in its
model metadata (`get_input_types` is not overridden), so the gateway needs
`--input-name`. Runs until killed.

usage: kserve_server.py PORT MODEL_NAME MODEL.onnx
(KServe reads its own --options from the command line too; none are needed.)
"""
import sys

import kserve
import numpy as np
import onnxruntime
from kserve import InferOutput, InferRequest, InferResponse


class OnnxModel(kserve.Model):
    def __init__(self, name, path):
        super().__init__(name)
        self.path = path
        self.load()

    def load(self):
        self.session = onnxruntime.InferenceSession(self.path, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name
        self.ready = True
        return self.ready

    def predict(self, payload: InferRequest, headers=None, response_headers=None) -> InferResponse:
        x = payload.inputs[0].as_numpy().astype(np.float32)
        outputs = self.session.run(None, {self.input: x})
        infer_outputs = [
            InferOutput(name=meta.name, shape=list(y.shape), datatype="FP32", data=y.astype(np.float32).reshape(-1).tolist())
            for meta, y in zip(self.session.get_outputs(), outputs)
        ]
        return InferResponse(response_id=payload.id, model_name=self.name, infer_outputs=infer_outputs)


def main():
    port, name, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    model = OnnxModel(name, path)
    kserve.ModelServer(http_port=port, enable_grpc=False, workers=1).start([model])


if __name__ == "__main__":
    main()
