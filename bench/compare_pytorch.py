"""PyTorch's side of bench/compare-pytorch: the CIFAR ResNet-18 of nn/resnet.cpp
(tests/reference/make_resnet_fixture.py's module-for-module mirror, the one the
reference fixture checks our network against), float32 on the CPU, SGD with
momentum 0.9 and weight decay 5e-4, batch on the host already, the same step
loop as bench/device_train.cpp (zero_grad, forward, cross-entropy, backward,
step, loss read back). Run through bench/compare-pytorch, which also times
ours (build/bench_device_train) and prints the ratios. Benchmark only: the
product never imports torch."""
import argparse, json, os, statistics, subprocess, sys, tempfile, time
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
from make_resnet_fixture import ResNet  # noqa: E402


def median_time(fn, warmup, reps):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    times.sort()
    return times[len(times) // 2]


def measure_pytorch(width, batch, steps, threads):
    """One width in this process: median train-step and eval-batch seconds."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = ResNet("resnet18", "cifar", width, 100)
    x = torch.randn(batch, 3, 32, 32)
    y = torch.arange(batch) % 100
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)

    def train_step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    net.train()
    train = median_time(train_step, 2, steps)
    net.eval()

    def eval_step():
        with torch.no_grad():
            net(x).sum().item()

    return {"train_step_s": train, "eval_batch_s": median_time(eval_step, 1, steps),
            "framework": f"pytorch {torch.__version__}", "threads": torch.get_num_threads()}


def measure_ours(binary, width, batch, steps):
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        subprocess.run([binary, "--device", "cpu", "--width", str(width), "--batch", str(batch),
                        "--steps", str(steps), "--bases", "1", "--json", f.name],
                       check=True, stdout=subprocess.DEVNULL)
        r = json.load(open(f.name))
    return {"train_step_s": batch / r["train_images_per_second"],
            "eval_batch_s": batch / r["eval_images_per_second"]}


def measure_pytorch_subprocess(width, batch, steps, threads):
    # A fresh process per measurement, as ours gets: no allocator or cache
    # state carried over from the other width.
    out = subprocess.run([sys.executable, __file__, "--worker", "--widths", str(width), "--batch", str(batch),
                          "--steps", str(steps), "--threads", str(threads)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    p = argparse.ArgumentParser(description="Our CPU training step and evaluation vs PyTorch's, in one run.")
    p.add_argument("--ours", default="build/bench_device_train", help="our benchmark binary")
    p.add_argument("--widths", default="1.0,0.25", help="width multipliers (1.0 = 64 channels, 0.25 = 16)")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=10, help="timed steps per measurement (median)")
    p.add_argument("--rounds", type=int, default=3, help="ours and PyTorch alternate this many times")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    widths = [float(s) for s in a.widths.split(",")]
    if a.worker:
        print(json.dumps(measure_pytorch(widths[0], a.batch, a.steps, a.threads)))
        return
    os.environ["OMP_NUM_THREADS"] = str(a.threads)
    rows = []
    for w in widths:
        ours, theirs = [], []
        for r in range(a.rounds):  # alternating, so a slow spell of the machine hits both sides
            ours.append(measure_ours(a.ours, w, a.batch, a.steps))
            theirs.append(measure_pytorch_subprocess(w, a.batch, a.steps, a.threads))
            print(f"  width {int(64 * w)} round {r + 1}: train {ours[-1]['train_step_s']:.3f} s vs "
                  f"{theirs[-1]['train_step_s']:.3f} s, eval {ours[-1]['eval_batch_s']:.3f} s vs "
                  f"{theirs[-1]['eval_batch_s']:.3f} s", file=sys.stderr, flush=True)
        med = lambda xs, k: statistics.median(x[k] for x in xs)
        rows.append((w, med(ours, "train_step_s"), med(theirs, "train_step_s"), med(ours, "eval_batch_s"),
                     med(theirs, "eval_batch_s")))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"# compare-pytorch | {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())} | commit {commit} | "
          f"{os.uname().nodename} | cpu {cpu} | "
          f"{theirs[-1]['framework']} | {a.threads} threads | CIFAR ResNet-18, batch {a.batch}, float32 | "
          f"medians of {a.rounds} alternating rounds x {a.steps} steps")
    print("width  train ours (s/step)  train pytorch  ours faster by   eval ours (img/s)  eval pytorch  ours faster by")
    for w, to, tp, eo, ep in rows:
        print(f"{int(64 * w):5d}  {to:19.3f}  {tp:13.3f}  {tp / to:13.2f}x   {a.batch / eo:17.0f}  "
              f"{a.batch / ep:12.0f}  {ep / eo:13.2f}x")


if __name__ == "__main__":
    main()
