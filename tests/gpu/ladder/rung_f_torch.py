"""Rung f: PyTorch: 50 training steps of a small MLP on synthetic data (fixed seed, deterministic algorithms,
no TF32), every 10th loss and the last printed with full precision, then inference of a small conv net. The
ladder compares the CHECK values natively and in a zone (1e-5 relative)."""
import os

os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS, before torch loads it
from ladder_util import check, require, run  # noqa: E402

RUNG = "torch"
(torch,) = require(RUNG, "torch")


def body():
    print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())
    if not torch.cuda.is_available():
        raise RuntimeError("torch.cuda.is_available() is False")
    print("device", torch.cuda.get_device_name(0), torch.cuda.get_device_capability(0))
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(True)
    dev = torch.device("cuda")

    torch.manual_seed(0)
    x = torch.randn(1024, 64)
    w_true = torch.randn(64, 1)
    y = torch.tanh(x @ w_true) + 0.1 * torch.randn(1024, 1)
    x, y = x.to(dev), y.to(dev)
    model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 128),
                                torch.nn.ReLU(), torch.nn.Linear(128, 1)).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    first = None
    for step in range(50):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        value = loss.item()
        first = value if first is None else first
        if step % 10 == 0 or step == 49:
            check(f"loss_{step}", value)
    print(f"loss {first:.17g} -> {value:.17g}")

    torch.manual_seed(1)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                              torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(),
                              torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(32, 10)).eval()
    images = torch.randn(8, 3, 32, 32)
    with torch.no_grad():
        ref = net(images)
        out = net.to(dev)(images.to(dev)).cpu()
    err = float((out - ref).abs().max())
    check("conv_logits_sum", float(out.double().sum()))
    check("conv_argmax", ",".join(str(int(i)) for i in out.argmax(1)))
    torch.cuda.synchronize()
    print(f"conv net: max |gpu - cpu| {err:.2e}")
    return value < first and err < 1e-3


run(RUNG, body)
