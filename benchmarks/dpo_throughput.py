"""DPO training throughput: the plain student-style loop, the notebook's fast path, and TRL's DPOTrainer.

    .venv/bin/python benchmarks/dpo_throughput.py [--steps 6] [--batch-size 4] [--max-len 128]

All three train the same model (the embedded SmolLM2-135M-Instruct, or --model) on the same rows of
the kit's train split, with the same batch size, length, beta and learning rate, in the precision the
kit picks for the device. The plain loop is the solution's training-loop cell; the fast path is the
solution's `fast_train` on the same rows batched by `length_grouped_batches` (its one-off reference
pass is included in its time). Each runs in its own
process, so peak memory is its own. `trl` is DPOTrainer with its defaults, which turn gradient
checkpointing on (less memory, more compute); `trl-no-ckpt` turns it off, as the kit's loops run: peak RSS on a CPU, `torch.cuda.max_memory_allocated` on CUDA.
The first step of each is a warm-up and is not timed. tokens/s counts the real (unpadded) tokens of
both sequences of each pair, from the kit's tokenization (TRL tokenizes the same rows itself).
On CUDA, --course uses the course sizes (batch 16, length 1024) and prints the projected time of
one epoch over the train split.
"""
from __future__ import annotations

import argparse
import copy
import json
import resource
import subprocess
import sys
import time

METHODS = ("plain", "fast", "trl", "trl-no-ckpt")  # trl: its defaults (gradient checkpointing on)


def _rows(tokenizer, count: int, max_len: int):
    from alignment_kit import paths as runtime_paths
    from autograder.reference import reference_function

    template, tokenize = reference_function("apply_chat_template"), reference_function("tokenize_row")
    lines = (runtime_paths.DATA_DIR / "train.jsonl").read_text(encoding="utf-8").splitlines()[:count]
    raw = [json.loads(line) for line in lines]
    half = max_len // 2
    rows = [tokenize(template(r, tokenizer), tokenizer, max_prompt_length=half, max_completion_length=max_len - half)
            for r in raw]
    return raw, rows


def _tokens_per_pair(rows, max_len: int) -> float:
    total = sum(min(max_len, len(r["prompt_input_ids"]) + len(r[f"{s}_input_ids"])) for r in rows for s in ("chosen", "rejected"))
    return total / len(rows)


def run_one(method: str, args) -> dict:
    """Train `args.steps` steps with one method in this process; returns its timing and peak memory."""
    import torch
    from torch.utils.data import DataLoader
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from alignment_kit import device as device_lib
    from autograder.reference import reference_function, run_reference_loop

    device = device_lib.pick_device()
    precision = device_lib.pick_precision(device)
    amp_dtype = device_lib.autocast_dtype(precision)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    raw, rows = _rows(tokenizer, args.steps * args.batch_size, args.max_len)
    torch.manual_seed(0)
    policy = AutoModelForCausalLM.from_pretrained(args.model).to(device)
    reference = copy.deepcopy(policy).eval()
    scaler = torch.amp.GradScaler(device, enabled=precision == "fp16")
    optimizer = torch.optim.AdamW(policy.parameters(), lr=args.lr)

    def autocast():
        return torch.autocast(device_type=device, dtype=amp_dtype or torch.bfloat16, enabled=amp_dtype is not None)

    collate = reference_function("pad_collate_fn")
    batches = [{k: v.to(device) for k, v in b.items()}
               for b in DataLoader(rows, batch_size=args.batch_size, collate_fn=lambda b: collate(b, tokenizer.pad_token_id))]
    if method == "plain":
        def train(chunk):
            run_reference_loop(policy, reference, chunk, optimizer, scaler, 0.1, args.max_len, device, autocast)
    elif method == "fast":
        fast_train = reference_function("fast_train")
        grouped = reference_function("length_grouped_batches")(rows, args.batch_size, seed=0)
        batches = [{k: v.to(device) for k, v in collate([rows[i] for i in group], tokenizer.pad_token_id).items()}
                   for group in grouped]  # the same rows, batched by length

        def train(chunk):
            fast_train(policy, reference, chunk, optimizer, scaler, 0.1, args.max_len, autocast)
    else:
        seconds = _trl_seconds(raw, policy, reference, tokenizer, args, precision, device,
                               checkpointing=method == "trl")
    if not method.startswith("trl"):
        train(batches[:1])  # warm-up
        _sync(device)
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        started = time.perf_counter()
        train(batches[1:])
        _sync(device)
        seconds = time.perf_counter() - started
    pairs = (len(batches) - 1) * args.batch_size
    peak = (torch.cuda.max_memory_allocated() if device == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return dict(method=method, seconds=seconds, pairs=pairs, pairs_per_s=pairs / seconds,
                tokens_per_s=pairs * _tokens_per_pair(rows, args.max_len) / seconds, peak_mib=peak / 2**20,
                device=f"{device}/{precision}")


def _trl_seconds(raw, policy, reference, tokenizer, args, precision, device, checkpointing: bool) -> float:
    """Train TRL's DPOTrainer for args.steps steps (conversational rows, same sizes); the seconds of all
    steps after the first, measured by a callback (building the trainer and tokenizing are not timed)."""
    import torch
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import DPOConfig, DPOTrainer

    from alignment_kit.device import trl_precision_flags

    class StepClock(TrainerCallback):
        def on_step_end(self, train_args, state, control, **kwargs):
            if state.global_step == 1:
                _sync(device)
                if device == "cuda":
                    torch.cuda.reset_peak_memory_stats()
                self.started = time.perf_counter()

        def on_train_end(self, train_args, state, control, **kwargs):
            _sync(device)
            self.seconds = time.perf_counter() - self.started

    data = Dataset.from_list([{"prompt": [{"role": "user", "content": r["prompt"]}],
                               "chosen": [{"role": "assistant", "content": r["chosen"]}],
                               "rejected": [{"role": "assistant", "content": r["rejected"]}]} for r in raw])
    config = DPOConfig(output_dir="/tmp/dpo-throughput", per_device_train_batch_size=args.batch_size,
                       max_steps=args.steps, max_length=args.max_len, beta=0.1, learning_rate=args.lr,
                       logging_steps=1000, save_strategy="no", report_to="none", disable_tqdm=True,
                       dataloader_num_workers=0, gradient_checkpointing=checkpointing,
                       **trl_precision_flags(precision))
    clock = StepClock()
    trainer = DPOTrainer(model=policy, ref_model=reference, args=config, train_dataset=data,
                         processing_class=tokenizer, callbacks=[clock])
    trainer.train()
    return clock.seconds


def _sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6, help="steps per method (the first is a warm-up)")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--max-len", type=int, default=128)
    parser.add_argument("--lr", type=float, default=5e-6)
    parser.add_argument("--model", default="", help="model folder (default: the embedded SmolLM2)")
    parser.add_argument("--course", action="store_true", help="CUDA: batch 16, length 1024, epoch projection")
    parser.add_argument("--method", choices=METHODS, help=argparse.SUPPRESS)  # one method, in a child process
    args = parser.parse_args()
    if not args.model:
        from alignment_kit import assets
        args.model = str(assets.ensure_embedded_model(verbose=False))
    if args.course:
        args.batch_size, args.max_len = 16, 1024
    if args.method:
        print("RESULT" + json.dumps(run_one(args.method, args)))
        return
    results = []
    for method in METHODS:
        command = [sys.executable, __file__, "--method", method, "--steps", str(args.steps), "--batch-size",
                   str(args.batch_size), "--max-len", str(args.max_len), "--lr", str(args.lr), "--model", args.model]
        done = subprocess.run(command, capture_output=True, text=True)
        line = next((l for l in done.stdout.splitlines() if l.startswith("RESULT")), None)
        if line is None:
            print(f"{method} failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
            continue
        results.append(json.loads(line[len("RESULT"):]))
        print(f"  {method}: done", flush=True)
    trl = next((r for r in results if r["method"] == "trl"), None)
    print(f"\n{args.steps - 1} timed steps of {args.batch_size} pairs at length {args.max_len} on "
          f"{results[0]['device'] if results else '?'}; {time.strftime('%Y-%m-%d')}")
    print(f"{'method':12} {'pairs/s':>9} {'tokens/s':>10} {'peak MiB':>10} {'vs TRL':>8} {'peak vs TRL':>12}")
    for r in results:
        ratio = f"{r['pairs_per_s'] / trl['pairs_per_s']:.2f}x" if trl else "-"
        memory = f"{r['peak_mib'] / trl['peak_mib']:.2f}x" if trl else "-"
        print(f"{r['method']:12} {r['pairs_per_s']:9.2f} {r['tokens_per_s']:10.0f} {r['peak_mib']:10.0f} {ratio:>8} {memory:>12}")
    if args.course and results:
        from alignment_kit import paths as runtime_paths
        rows = len((runtime_paths.DATA_DIR / "train.jsonl").read_text().splitlines())
        for r in results:
            print(f"projected epoch over {rows} pairs ({r['method']}): {rows / r['pairs_per_s'] / 60:.1f} min")


if __name__ == "__main__":
    main()
