"""Interop check for `hybridc serve` with NVIDIA's official client
(tritonclient[http]): health, metadata, then one inference with JSON tensors
and one with binary tensors (the client's default). Prints one JSON line:
{"json": [logits...], "binary": [logits...], "argmax": k}, plus
"onnxruntime": [logits...] when MODEL.onnx is given and onnxruntime is
installed (a second oracle besides tract).

usage: triton_client.py HOST:PORT MODEL_NAME IMAGES.npy INDEX [MODEL.onnx]
"""
import json
import sys

import numpy as np
import tritonclient.http as httpclient


def main():
    url, name, images, index = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    client = httpclient.InferenceServerClient(url=url)
    assert client.is_server_live(), "server not live"
    assert client.is_server_ready(), "server not ready"
    assert client.is_model_ready(name), "model not ready"
    meta = client.get_model_metadata(name)
    inp, out = meta["inputs"][0], meta["outputs"][0]
    x = (np.load(images)[index : index + 1].astype(np.float32) / 255.0).reshape(inp["shape"])

    results = {}
    for mode, binary in (("json", False), ("binary", True)):
        tensor = httpclient.InferInput(inp["name"], list(x.shape), inp["datatype"])
        tensor.set_data_from_numpy(x, binary_data=binary)
        wanted = [httpclient.InferRequestedOutput(out["name"], binary_data=binary)]
        result = client.infer(name, [tensor], outputs=wanted)
        results[mode] = result.as_numpy(out["name"]).reshape(-1).tolist()

    # No outputs named: the client asks for every output in binary.
    tensor = httpclient.InferInput(inp["name"], list(x.shape), inp["datatype"])
    tensor.set_data_from_numpy(x)
    default = client.infer(name, [tensor]).as_numpy(out["name"]).reshape(-1)
    assert np.array_equal(default, np.array(results["binary"], dtype=default.dtype)), "default request differs"

    # A server-side error comes back as the client's exception, with the message.
    try:
        bad = httpclient.InferInput(inp["name"], [1, 2], inp["datatype"])
        bad.set_data_from_numpy(np.zeros((1, 2), np.float32), binary_data=False)
        client.infer(name, [bad])
        raise SystemExit("a wrongly shaped input was accepted")
    except httpclient.InferenceServerException as e:
        assert "shape" in str(e), str(e)

    results["argmax"] = int(np.argmax(results["json"]))
    if len(sys.argv) > 5:
        try:
            import onnxruntime
        except ImportError:
            onnxruntime = None
        if onnxruntime is not None:
            session = onnxruntime.InferenceSession(sys.argv[5], providers=["CPUExecutionProvider"])
            ort = session.run(None, {session.get_inputs()[0].name: x})[0]
            results["onnxruntime"] = ort.reshape(-1).tolist()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
