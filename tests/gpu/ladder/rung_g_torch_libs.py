"""Rung g: cuBLAS and cuDNN through PyTorch: float32 matmul (TF32 off) and a batched matmul against the CPU,
conv2d forward and backward with cuDNN enabled against the CPU."""
from ladder_util import check, require, run

RUNG = "torch_cublas_cudnn"
(torch,) = require(RUNG, "torch")


def body():
    print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())
    if not torch.cuda.is_available():
        raise RuntimeError("torch.cuda.is_available() is False")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.enabled = True
    torch.backends.cudnn.deterministic = True
    dev = torch.device("cuda")
    g = torch.Generator().manual_seed(7)
    a = torch.randn(1024, 768, generator=g)
    b = torch.randn(768, 512, generator=g)
    c = (a.to(dev) @ b.to(dev)).cpu()
    ref = (a.double() @ b.double())
    err_mm = float((c.double() - ref).abs().max())
    check("matmul_sum", float(c.double().sum()))
    ba = torch.randn(16, 64, 32, generator=g)
    bb = torch.randn(16, 32, 48, generator=g)
    bc = torch.bmm(ba.to(dev), bb.to(dev)).cpu()
    err_bmm = float((bc - torch.bmm(ba, bb)).abs().max())
    check("bmm_sum", float(bc.double().sum()))

    x = torch.randn(4, 8, 32, 32, generator=g)
    w = torch.randn(16, 8, 3, 3, generator=g)
    xd = x.to(dev).requires_grad_()
    wd = w.to(dev).requires_grad_()
    yd = torch.nn.functional.conv2d(xd, wd, padding=1)
    yd.square().sum().backward()
    xc = x.clone().requires_grad_()
    wc = w.clone().requires_grad_()
    yc = torch.nn.functional.conv2d(xc, wc, padding=1)
    yc.square().sum().backward()
    err_conv = float((yd.detach().cpu() - yc.detach()).abs().max())
    err_grad = float((wd.grad.cpu() - wc.grad).abs().max() / wc.grad.abs().max())
    check("conv_sum", float(yd.detach().double().sum().cpu()))
    check("conv_wgrad_sum", float(wd.grad.double().sum().cpu()))
    torch.cuda.synchronize()
    print(f"matmul err {err_mm:.2e}, bmm err {err_bmm:.2e}, conv err {err_conv:.2e}, conv wgrad rel err {err_grad:.2e}")
    return err_mm < 1e-2 and err_bmm < 1e-3 and err_conv < 1e-3 and err_grad < 1e-4


run(RUNG, body)
