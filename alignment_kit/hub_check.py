"""Check the models a student published: can they be loaded, and were they trained?

`check(locations)` loads the DPO policy, the PPO policy and the reward model (Hub repo IDs or local
folders) with the homework's own loading code, and compares both policies with the base model on
held-out prompts and pairs of the kit's data:
* the student's reward model's score of their replies;
* the per-token log-prob margin of chosen over rejected replies (the direction DPO pushes);
* simple style statistics of their replies (emoji, questions back, "as an AI").
A policy whose weights equal the base model's is flagged as untrained. The reward model is scored by
its accuracy on held-out pairs. `write(report, folder)` writes report.md, report.html, summary.json
and a plot. `python -m autograder check-hub` and the notebook's checker section both call this.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

STAGES = ("dpo", "ppo", "rloo", "reward")
SUFFIXES = {"dpo": "-dpo", "ppo": "-ppo", "rloo": "-rloo", "reward": "-reward-model"}
RL_STAGES = ("ppo", "rloo")  # part 5's policy: one of them, by the edition (PPO unless the RLOO one is there)
FIXED_PROMPT = "I just adopted a kitten and I have no idea what to name her. Any thoughts?"
EMOJI = re.compile("[\u2600-\u27bf\U0001f000-\U0001faff]")
AS_AN_AI = re.compile(r"\bas an? (ai|artificial intelligence|language model)\b", re.I)


class CheckProblem(Exception):
    """A model cannot be checked; the message says why and what to do."""


@dataclass
class Settings:
    """How much to generate and measure (the CLI's defaults; the notebook passes its own sizes)."""

    prompts: int = 4  # held-out prompts to generate replies for (the fixed prompt is always the first)
    pairs: int = 16  # held-out chosen/rejected pairs for the margins and the reward model's accuracy
    max_new_tokens: int = 40
    seed: int = 0
    device: str = "cpu"


@dataclass
class ModelReport:
    stage: str
    location: str
    path: str = ""
    problems: list[str] = field(default_factory=list)
    architecture: str = ""
    trained: bool | None = None  # None: could not tell (not loaded)


# ---------------------------------------------------------------------------------- finding models
def locate(prefix_or_dir: str, overrides: dict[str, str | None]) -> dict[str, str]:
    """Where each model is: `--dpo/--ppo/--rloo/--reward` win; else a folder's children (as the notebook saves
    them: OUTPUT/hub/<user>__<repo>-dpo ...), else Hub repo IDs PREFIX-dpo, PREFIX-ppo, PREFIX-reward-model.
    Part 5's policy is the PPO one, unless only an RLOO one is named or saved."""
    folder = Path(prefix_or_dir)

    def saved(stage: str) -> list[Path]:
        return sorted(p for p in folder.iterdir() if p.is_dir() and p.name.endswith(SUFFIXES[stage])) \
            if folder.is_dir() else []
    rl = "rloo" if overrides.get("rloo") or (not overrides.get("ppo") and not saved("ppo") and saved("rloo")) else "ppo"
    found = {}
    for stage in (s for s in STAGES if s not in RL_STAGES or s == rl):
        if overrides.get(stage):
            found[stage] = overrides[stage]
        elif folder.is_dir():
            matches = saved(stage)
            found[stage] = str(matches[0]) if matches else str(folder / f"(no folder ending in {SUFFIXES[stage]})")
        else:
            found[stage] = f"{prefix_or_dir}{SUFFIXES[stage]}"
    return found


def local_copy(location: str) -> Path:
    """A local folder for `location`: itself, or a download of the Hub repo (with HF_TOKEN if set)."""
    path = Path(location)
    if path.is_dir():
        return path
    if path.is_absolute() or location.startswith(".") or location.count("/") != 1:
        raise CheckProblem(f"{location}: no such folder, and not a Hub repo ID (user/name)")
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        raise CheckProblem(f"{location}: the Hub is not reachable (HF_HUB_OFFLINE=1); only local folders can be checked")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError

    try:
        return Path(snapshot_download(location, token=os.environ.get("HF_TOKEN")))
    except (RepositoryNotFoundError, GatedRepoError):
        hint = "" if os.environ.get("HF_TOKEN") else " (a private repo needs a token: set HF_TOKEN)"
        raise CheckProblem(f"{location}: no such repo on the Hub, or no access to it{hint}") from None
    except (HfHubHTTPError, OSError) as error:
        raise CheckProblem(f"{location}: could not download it: {error}") from None


def _architecture(path: Path) -> str:
    config = path / "config.json"
    if not config.is_file():
        raise CheckProblem(f"{path}: no config.json, so this is not a saved transformers model")
    if not any(path.glob("*.safetensors")) and not any(path.glob("pytorch_model*.bin")):
        raise CheckProblem(f"{path}: no weights (model.safetensors or pytorch_model.bin): the upload is incomplete")
    architectures = json.loads(config.read_text()).get("architectures") or ["unknown"]
    return architectures[0]


def load(report: ModelReport, tokenizer, device: str):
    """The model of one stage, or None with the problem recorded."""
    from alignment_kit.helpers import load_causal_lm, load_reward_model

    try:
        path = local_copy(report.location)
        report.path = str(path)
        report.architecture = _architecture(path)
        wanted = "ForSequenceClassification" if report.stage == "reward" else "ForCausalLM"
        if not report.architecture.endswith(wanted):
            kind = "a reward model (a sequence classifier)" if report.stage == "reward" else "a causal language model"
            raise CheckProblem(f"{path}: expected {kind}, found {report.architecture}")
        if report.stage == "reward":
            return load_reward_model(str(path), tokenizer.pad_token_id, device)
        return load_causal_lm(str(path), device)
    except CheckProblem as problem:
        report.problems.append(str(problem))
    except (OSError, ValueError, RuntimeError) as error:
        report.problems.append(f"{report.location}: could not be loaded: {error}")
    return None


def base_model_of(locations: dict[str, str], default: str) -> str:
    """The base model the first local model's card names (README.md), else `default`."""
    from huggingface_hub import ModelCard

    for stage in locations:
        card = Path(locations[stage]) / "README.md"
        if card.is_file():
            named = ModelCard.load(card).data.base_model
            if isinstance(named, str) and (Path(named).is_dir() or named.count("/") == 1):
                return named
    return default


# ---------------------------------------------------------------------------------- measures
def same_weights(model, base) -> bool:
    """Whether every parameter the two models share is equal (an untrained copy)."""
    import torch

    mine, theirs = model.state_dict(), base.state_dict()
    shared = [k for k in mine if k in theirs and mine[k].shape == theirs[k].shape]
    return bool(shared) and all(torch.equal(mine[k], theirs[k]) for k in shared)


def _mean_completion_logprob(model, tokenizer, prompt: str, reply: str) -> float:
    """Mean log-probability per token of `reply` after `prompt` (the model's own loss on the reply)."""
    import torch

    user = [{"role": "user", "content": prompt}]
    start = tokenizer.apply_chat_template(user, add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]
    full = tokenizer.apply_chat_template(user + [{"role": "assistant", "content": reply}], tokenize=True,
                                         return_dict=True)["input_ids"]
    ids = torch.tensor([list(full)], device=model.device)
    labels = ids.clone()
    labels[:, :len(start)] = -100
    with torch.inference_mode():
        return -float(model(input_ids=ids, labels=labels).loss)


def logprob_margin(model, tokenizer, pairs: list[dict]) -> float:
    """Mean over held-out pairs of (per-token log-prob of chosen) - (of rejected)."""
    margins = [_mean_completion_logprob(model, tokenizer, p["prompt"], p["chosen"])
               - _mean_completion_logprob(model, tokenizer, p["prompt"], p["rejected"]) for p in pairs]
    return sum(margins) / len(margins)


def replies(model, tokenizer, prompts: list[str], settings: Settings) -> dict[str, list[str]]:
    """Greedy replies, and sampled ones with a fixed seed, to each prompt."""
    import torch

    from alignment_kit.helpers import generate_reply

    greedy = [generate_reply(model, tokenizer, p, settings.max_new_tokens) for p in prompts]
    sampled = []
    for prompt in prompts:
        torch.manual_seed(settings.seed)
        inputs = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                               return_tensors="pt", return_dict=True).to(model.device)
        with torch.inference_mode():
            out = model.generate(**inputs, max_new_tokens=settings.max_new_tokens, do_sample=True, top_p=0.9,
                                 temperature=0.8, pad_token_id=tokenizer.pad_token_id)
        sampled.append(tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True).strip())
    return {"greedy": greedy, "sampled": sampled}


def style(texts: list[str]) -> dict[str, float]:
    count = max(1, len(texts))
    return {"emoji rate": sum(bool(EMOJI.search(t)) for t in texts) / count,
            "question rate": sum("?" in t for t in texts) / count,
            "'as an AI' rate": sum(bool(AS_AN_AI.search(t)) for t in texts) / count}


def held_out(settings: Settings) -> tuple[list[str], list[dict]]:
    """Prompts (the fixed one first) and pairs from the kit's held-out split."""
    from alignment_kit.paths import DATA_DIR

    rows = [json.loads(line) for line in (DATA_DIR / "test.jsonl").read_text().splitlines()]
    prompts = [FIXED_PROMPT] + [r["prompt"] for r in rows[-(settings.prompts - 1):]] if settings.prompts > 1 else [FIXED_PROMPT]
    return prompts, rows[:settings.pairs]


# ---------------------------------------------------------------------------------- the check
def check(locations: dict[str, str], base: str, settings: Settings = Settings(), log=print) -> dict:
    """Check the three models against `base`; returns the report (plain data)."""
    from alignment_kit.helpers import load_causal_lm, load_tokenizer, reward_scores

    prompts, pairs = held_out(settings)
    stages = [stage for stage in STAGES if stage in locations]
    reports = {stage: ModelReport(stage, locations[stage]) for stage in stages}
    log(f"[check-hub] base model: {base}")
    tokenizer = load_tokenizer(base)
    base_model = load_causal_lm(base, settings.device)
    models = {}
    for stage in stages:
        log(f"[check-hub] loading {stage} from {reports[stage].location}")
        models[stage] = load(reports[stage], tokenizer, settings.device)
    if models["reward"] is not None:  # its head is new; its backbone starts as the base model's
        backbone = getattr(models["reward"], models["reward"].base_model_prefix, None)
        base_backbone = getattr(base_model, base_model.base_model_prefix, None)
        reports["reward"].trained = backbone is None or base_backbone is None or not same_weights(backbone, base_backbone)
    measures, generations = {}, {}
    for name, model in [("base", base_model)] + [(s, models[s]) for s in stages if s != "reward"]:
        if model is None:
            continue
        if name != "base":
            reports[name].trained = not same_weights(model, base_model)
        log(f"[check-hub] measuring {name}: replies to {len(prompts)} prompts, margins on {len(pairs)} held-out pairs")
        generations[name] = replies(model, tokenizer, prompts, settings)
        measures[name] = {"chosen-rejected log-prob margin per token": logprob_margin(model, tokenizer, pairs),
                          **style(generations[name]["greedy"] + generations[name]["sampled"])}
        if models["reward"] is not None:
            conversations = [[{"role": "user", "content": p}, {"role": "assistant", "content": r}]
                             for p, r in zip(prompts * 2, generations[name]["greedy"] + generations[name]["sampled"])]
            measures[name]["reward of its replies (student's reward model)"] = float(
                reward_scores(models["reward"], tokenizer, conversations).mean())
    accuracy = None
    if models["reward"] is not None:
        conversations = lambda side: [[{"role": "user", "content": p["prompt"]}, {"role": "assistant", "content": p[side]}]
                                      for p in pairs]
        chosen = reward_scores(models["reward"], tokenizer, conversations("chosen"))
        rejected = reward_scores(models["reward"], tokenizer, conversations("rejected"))
        accuracy = float((chosen > rejected).float().mean())
    return {"base": base, "settings": vars(settings), "prompts": prompts,
            "models": {stage: vars(r) for stage, r in reports.items()},
            "measures": measures, "reward_accuracy": accuracy,
            "generations": generations, "verdicts": verdicts(reports, measures, accuracy)}


def verdicts(reports: dict[str, ModelReport], measures: dict, accuracy: float | None) -> list[str]:
    """One line per model, in plain words."""
    lines = []
    margin = "chosen-rejected log-prob margin per token"
    for stage in reports:
        report = reports[stage]
        if report.problems:
            lines.append(f"✗ {stage}: " + "; ".join(report.problems))
        elif report.trained is False:
            lines.append(f"✗ {stage}: its weights equal the base model's: it was not trained")
        elif stage == "reward":
            lines.append(f"✓ reward: loads, trained; held-out accuracy {accuracy:.0%}" if accuracy is not None
                         else "✓ reward: loads, trained")
        else:
            moved = measures[stage][margin] - measures["base"][margin]
            direction = "towards the chosen replies" if moved > 0 else "away from the chosen replies"
            lines.append(f"✓ {stage}: loads, trained; the log-prob margin moved {moved:+.3f} per token ({direction})")
    return lines


# ---------------------------------------------------------------------------------- the report
def markdown(report: dict) -> str:
    lines = ["# Published models", "", f"Base model: `{report['base']}`", ""]
    lines += [f"- {v}" for v in report["verdicts"]] + [""]
    lines += ["| stage | location | architecture |", "|---|---|---|"]
    lines += [f"| {s} | `{m['location']}` | {m['architecture'] or '-'} |" for s, m in report["models"].items()]
    if report["measures"]:
        names = list(next(iter(report["measures"].values())))
        lines += ["", "## Measures on held-out data", "", "| model | " + " | ".join(names) + " |",
                  "|---|" + "---|" * len(names)]
        for model, values in report["measures"].items():
            lines.append(f"| {model} | " + " | ".join(f"{values.get(n, float('nan')):.3f}" for n in names) + " |")
        lines += ["", "![measures](measures.png)"]
    if report["reward_accuracy"] is not None:
        lines += ["", f"Reward model accuracy on held-out pairs: **{report['reward_accuracy']:.0%}**"]
    lines += ["", "## Replies (greedy)", ""]
    for index, prompt in enumerate(report["prompts"]):
        lines += [f"**{prompt}**", ""]
        lines += [f"- *{name}*: {g['greedy'][index] or '(empty)'}" for name, g in report["generations"].items()]
        lines.append("")
    return "\n".join(lines)


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(next(iter(report["measures"].values())))
    rows = (len(names) + 2) // 3  # at most three plots side by side, so the figure fits a page
    figure, axes = plt.subplots(rows, min(3, len(names)), figsize=(9, 2.6 * rows), squeeze=False)
    for axis in axes.ravel()[len(names):]:
        axis.set_visible(False)
    for axis, name in zip(axes.ravel(), names):
        models = list(report["measures"])
        axis.bar(models, [report["measures"][m].get(name, 0.0) for m in models], color=["grey", "tab:blue", "tab:orange"][:len(models)])
        axis.set_title(name, fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def html_page(report: dict) -> str:
    """The same content as `markdown`, as a page (the kit's stylesheet; the plot scaled to the page)."""
    from alignment_kit.pages import badge, esc, page, table

    body = ["<h1>Published models</h1>", f"<p>Base model: <code>{esc(report['base'])}</code></p><ul>"]
    body += [f"<li>{badge('passed' if line.startswith('✓') else 'failed')} {esc(line[1:].strip())}</li>"
             for line in report["verdicts"]]
    body.append("</ul>")
    body.append(table(["stage", "location", "architecture"], [
        [esc(stage), f"<code>{esc(model['location'])}</code>", esc(model["architecture"] or "-")]
        for stage, model in report["models"].items()], columns=["points", "", "check"]))
    if report["measures"]:
        names = list(next(iter(report["measures"].values())))
        body.append("<h2>Measures on held-out data</h2>")
        body.append(table(["model", *map(esc, names)], [
            [esc(model), *(f"{values.get(n, float('nan')):.3f}" for n in names)]
            for model, values in report["measures"].items()], numeric=set(range(1, len(names) + 1))))
        body.append('<p><img src="measures.png" alt="the measures of each model"></p>')
    if report["reward_accuracy"] is not None:
        body.append(f"<p>Reward model accuracy on held-out pairs: <b>{report['reward_accuracy']:.0%}</b></p>")
    body.append("<h2>Replies (greedy)</h2>")
    for index, prompt in enumerate(report["prompts"]):
        body.append(f"<h3>{esc(prompt)}</h3>")
        body.append(table(["model", "reply"], [[esc(name), f'<div class="msg">{esc(g["greedy"][index] or "(empty)")}</div>']
                                               for name, g in report["generations"].items()], columns=["points", ""]))
    return page("Published models", "".join(body))


def write(report: dict, folder: Path) -> list[Path]:
    """report.md, report.html, summary.json and (when there are measures) measures.png in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / "summary.json", folder / "report.md", folder / "report.html"]
    written[0].write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    written[1].write_text(markdown(report), encoding="utf-8")
    written[2].write_text(html_page(report), encoding="utf-8")
    if report["measures"]:
        plot(report, folder / "measures.png")
        written.append(folder / "measures.png")
    return written
