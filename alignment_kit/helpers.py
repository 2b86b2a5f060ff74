"""Small helpers the homework notebook calls for work that is not graded: generation,
reward scoring, prompt-only datasets, quiet output, and saving or pushing a model."""
from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import torch

from alignment_kit.i18n import say

# Warnings a student cannot act on: they come from inside the libraries, or from running on a CPU.
# Only these are silenced; every other warning still shows.
UNACTIONABLE_WARNINGS = (
    "You are importing from 'trl.experimental'",  # PPOTrainer lives there in this TRL release, by design
    ".*pin_memory.*no accelerator is found",  # torch's DataLoader on a CPU
    ".*gradient_checkpointing.* is deprecated",  # TRL's own configs still use the old name
    ".*is_gradient_checkpointing.* is deprecated",
    "var\\(\\): degrees of freedom is <= 0",  # TRL logs val/ratio_var; with one PPO mini-batch it is NaN
)
UNACTIONABLE_LOGS = (
    "right-padding was detected",  # TRL's PPO generates from its own padded batches
    "Passing `generation_config` together with generation-related arguments",  # TRL's generation call
    "LOAD REPORT",  # a new value or reward head is initialised from scratch, as intended
    "Ignoring clean_up_tokenization_spaces=True for BPE tokenizer",  # transformers 5.15 on the converted tokenizer
)


class _DropLogs(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(text in message for text in UNACTIONABLE_LOGS)


def quiet_known_warnings() -> None:
    """Silence the library warnings listed above (and only those)."""
    import transformers  # noqa: F401 - sets up the handler that transformers logs through

    for pattern in UNACTIONABLE_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)
    for handler in logging.getLogger("transformers").handlers:
        if not any(isinstance(f, _DropLogs) for f in handler.filters):
            handler.addFilter(_DropLogs())


def show_reply(label: str, reply: str, settings) -> None:
    """Print a generated reply; in the smoke profile, say why it is noise (or empty)."""
    print(f"{label}: {reply}" if reply else f"{label}: " + say("helpers.empty_reply", "(an empty reply)"))
    if settings.profile == "smoke":
        print("   " + say("helpers.smoke_reply", "(smoke profile: the tiny model is random, so its replies are noise or "
                          "empty; run the full profile for real replies)"))


def user_turn(prompt: str) -> list[dict]:
    return [{"role": "user", "content": prompt}]


def generate_reply(model, tokenizer, prompt: str, max_new_tokens: int = 40) -> str:
    """Greedy reply of `model` to one user prompt, rendered with the chat template."""
    inputs = tokenizer.apply_chat_template(user_turn(prompt), add_generation_prompt=True,
                                           return_tensors="pt", return_dict=True).to(model.device)
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        output = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                                pad_token_id=tokenizer.pad_token_id)
    model.train(was_training)
    return tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True).strip()


def prompt_input_ids(example: dict, tokenizer) -> dict:
    """A prompt-only row for PPO: the chat-templated prompt with the generation prompt, as ids."""
    encoded = tokenizer.apply_chat_template(user_turn(example["prompt"]), add_generation_prompt=True,
                                            tokenize=True, return_dict=True)
    return {"input_ids": list(encoded["input_ids"])}


@torch.inference_mode()
def reward_scores(reward_model, tokenizer, conversations: list[list[dict]], batch_size: int = 16) -> torch.Tensor:
    """Scalar reward for each conversation (a list of chat messages)."""
    reward_model.eval()
    device = next(reward_model.parameters()).device
    scores = []
    for start in range(0, len(conversations), batch_size):
        texts = [tokenizer.apply_chat_template(c, tokenize=False) for c in conversations[start:start + batch_size]]
        batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
        scores.append(reward_model(**batch).logits[:, 0].float().cpu())
    return torch.cat(scores)


def reward_accuracy(reward_model, tokenizer, rows) -> float:
    """Fraction of implicit-prompt rows whose chosen conversation outscores the rejected one."""
    chosen = reward_scores(reward_model, tokenizer, [row["chosen"] for row in rows])
    rejected = reward_scores(reward_model, tokenizer, [row["rejected"] for row in rows])
    return (chosen > rejected).float().mean().item()


def load_tokenizer(location: str):
    """The tokenizer of a checkpoint (its EOS doubles as padding when it has no pad token)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(location)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_causal_lm(location: str, device: str = "cpu"):
    """A policy (causal LM) from a local folder or a Hub repo ID."""
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(location).to(device)


def load_reward_model(location: str, pad_token_id: int, device: str = "cpu"):
    """A reward model (a sequence classifier with one output) from a local folder or a Hub repo ID."""
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(location, num_labels=1).to(device)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = pad_token_id
    return model


def save_or_push(model, tokenizer, repo_id: str, output_dir: str, model_card=None, online: bool = False) -> str:
    """Save the model, its tokenizer and its card (a `huggingface_hub.ModelCard`, or its text) to
    OUTPUT_DIR/hub/<repo>, then push that folder to a **private** Hub repo when a token and the
    network are there. Returns where the model now lives (the repo ID, or the local folder)."""
    from huggingface_hub import HfApi, ModelCard

    folder = Path(output_dir) / "hub" / repo_id.replace("/", "__")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    if model_card is not None:
        ModelCard(str(model_card)).save(folder / "README.md")
    token = os.environ.get("HF_TOKEN")
    if online and token:
        api = HfApi(token=token)
        api.create_repo(repo_id, private=True, exist_ok=True)
        api.upload_folder(folder_path=str(folder), repo_id=repo_id, commit_message="Upload from the alignment homework")
        print(say("helpers.pushed", "pushed {repo} (private); a copy stays in {folder}", repo=repo_id, folder=folder))
        return repo_id
    reason = say("helpers.no_token", "no HF_TOKEN") if online else say("helpers.offline", "no Hub access")
    print(say("helpers.saved", "{reason}: saved {repo} to {folder} instead of pushing", reason=reason, repo=repo_id,
              folder=folder))
    return str(folder)
