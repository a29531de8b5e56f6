"""Stage instruct: E2LLM 'reasoning', long-context instruction tuning over several files as soft tokens (and its pure-text control)."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import torch
import torch.nn.functional as F

from batches import (
    Ranker,
    TokCache,
    assemble,
    batch_soft,
    copy_accuracy,
    greedy_answers,
    heldout_instruct_set,
    lm_stream,
    score,
    shuffled_soft,
)
from common import CHAT_TEMPLATE as CHAT
from common import MetricLog, device, load_ckpt
from loop import Leg, amp, finish_stage, leg_finished, log_and_save, lr_at, optimize, resume
from losses import answer_loss, copy_loss, names_loss, pointer_loss, pointer_queries
from runs import data_dir, load_tokenizer, run_dir, stage_state

POINTER_HEAD = 0  # the pointer objective's head in --pointer-layer


def curriculum(step: int, total: int) -> int:
    """Files per example: 2-4 early, growing to many."""
    frac = step / max(1, total)
    return [2, 3, 4, 5, 6, 8][min(5, int(frac * 6))]


def prose_files(step: int, start: int, total: int, most: int) -> int:
    """--prose-files: files per "what"/summary example, 1 at the leg's start growing evenly to `most` by its
    last step (a leg stopped by its time cap ends earlier on the way)."""
    frac = (step - start) / max(1, total - start)
    return max(1, min(most, 1 + int(frac * most)))


def task_mix(spec: str) -> list[str]:
    """--task-mix "where:5,summary:1,...": the tasks instruct draws from, each repeated by its weight."""
    from data import TASKS

    out = []
    for part in spec.split(","):
        name, _, weight = part.strip().partition(":")
        if name not in TASKS or not weight.isdigit():
            raise SystemExit(f"instruct: --task-mix wants task:weight pairs (integer weights) over {', '.join(TASKS)}; got {part!r}")
        out += [name] * int(weight)
    if not out:
        raise SystemExit("instruct: --task-mix has no task with a positive weight")
    return out


def drop_template_docs(repos) -> None:
    """Training only: a module doc that opens with the same three words as 3+ others of its repository is a
    template (distutils' 20 "Implements the Distutils '...' command", sympy's "This module contains ..."),
    not a summary of its file. The decoder learnt to recite them for any file, so they are not summary targets."""

    def opening(f) -> str:
        return " ".join(f.module_doc.split()[:3])

    for files in repos.values():
        counts = Counter(opening(f) for f in files if f.module_doc)
        for f in files:
            if f.module_doc and counts[opening(f)] >= 4:
                f.module_doc = ""


def run(a) -> None:
    """Long-context instruction tuning. Decoder fully tuned (it is small: LoRA would save nothing worth the
    capacity) with the adapter; the encoder is frozen so its vectors are computed once per chunk and cached."""
    from data import build_example, load_files, reconstruction_example, variant

    rd = run_dir(a.run)
    if leg_finished(a, rd / f"{a.stage_name}.pt"):
        return
    dev = device()
    tok = load_tokenizer(a.run)
    toks = TokCache(tok)
    dd = data_dir(a)
    train, held = load_files(dd / "train.jsonl"), load_files(dd / "heldout.jsonl")
    if a.drop_template_docs:
        drop_template_docs(train)
    # --recon-by-repo: reconstruction draws a repository as the questions do (weights below), then one of its
    # chunks; drawn from all chunks at once, the largest repository (with train_more, sympy: half of them)
    # takes most examples. Off by default: train.sh's legs drew from all chunks.
    repo_chunks = {n: [(f, c) for f in files for c in f.chunks] for n, files in train.items()}
    train_chunks = [fc for chunks in repo_chunks.values() for fc in chunks]  # the same order as before
    lm_ids = lm_stream(tok, "train", rd / "lm_train.npy", a.smoke) if (a.lm_mix or a.copy_mix) else None
    lm_held = lm_stream(tok, "heldout", rd / "lm_heldout.npy", a.smoke) if a.copy_mix else None
    import data as data_mod

    data_mod.PATH_POOL[:] = sorted({f.path for files in train.values() for f in files})
    dec, enc, ad, ck = stage_state(rd, a.stage_name, a, dev)
    for p in enc.parameters():
        p.requires_grad_(False)
    enc.eval()
    opt = torch.optim.AdamW([{"params": dec.parameters(), "lr": a.lr}, {"params": ad.parameters(), "lr": a.lr}], weight_decay=0.0)
    step, clock = resume(ck, opt, decoder=dec, adapter=ad)
    if a.init_from and not ck:  # e.g. start the soft-token run from the pure-text control's decoder, which has learned to copy
        init = load_ckpt(rd / f"{a.init_from}.pt")
        dec.load_state_dict(init["decoder"])
        print(f"{a.stage_name}: decoder initialised from {a.init_from} step {init['step']}", flush=True)
    log = MetricLog(rd / "metrics.jsonl")
    total = a.steps or (6 if a.smoke else 700)
    batch = 2 if a.smoke else a.batch
    max_positions = 160 if a.smoke else a.max_positions
    if a.rank_files and (a.extra_questions or a.extra_names):
        # The order follows the example's final question; earlier answered questions about other names would
        # teach the decoder to ignore it (the runtime re-plans, and re-orders, for every turn).
        raise SystemExit("instruct: --rank-files orders the files by the final question; use it with --extra-questions 0 --extra-names 0")
    if a.pointer_weight and not 0 <= a.pointer_layer < dec.cfg.num_layers:
        raise SystemExit(f"instruct: --pointer-layer must name one of the decoder's {dec.cfg.num_layers} layers")
    spc = ad.cfg.soft_tokens_per_chunk
    text_mode = "names" if a.text_control else "soft"
    mix = task_mix(a.task_mix) if not a.text_control else ["where"]
    n_eval = 2 if a.smoke else 40
    cache: dict = {}
    ranker = Ranker(enc, toks, dev, cache)
    order = ranker.files if a.rank_files else None
    recap = {"rank": ranker.chunks, "recap_chunks": a.recap_chunks}
    evsets = {
        "where_soft": heldout_instruct_set(held, n_eval, spc, text_mode, 0.0, 4, 21, ["where"], order, **recap),
        "where_names": heldout_instruct_set(held, n_eval, spc, "names", 0.0, 4, 24, ["where"], order) if a.text_frac > 0 else [],
        "where_hybrid": heldout_instruct_set(held, n_eval, spc, text_mode, 1.0, 4, 22, ["where"], order, **recap)
        if not a.text_control
        else [],
        "mixed": heldout_instruct_set(held, n_eval, spc, text_mode, 0.5, 4, 23, mix, order, **recap) if not a.text_control else [],
        # module docstrings from soft tokens (ROUGE-L): the product eval's summary row has few questions
        "summary": heldout_instruct_set(held, n_eval, spc, text_mode, 0.0, 4, 25, ["summary"], order, **recap)
        if not a.text_control
        else [],
        "what": heldout_instruct_set(held, n_eval, spc, text_mode, 0.0, 4, 26, ["what"], order, **recap)
        if not a.text_control and "what" in mix
        else [],
        # the same questions as where_soft in drawn order: with --rank-files, lookup without the ranking's help
        "where_drawn": heldout_instruct_set(held, n_eval, spc, text_mode, 0.0, 4, 21, ["where"]) if a.rank_files else [],
    }
    stop_ids = {toks(CHAT["endOfTurn"])[0], tok.token_to_id("<|endoftext|>")}
    names = sorted(train)
    weights = [len(train[n]) ** 0.5 for n in names]

    def evaluate() -> dict:
        dec.eval()
        ad.eval()
        res = {}
        with torch.no_grad():
            for key, exs in evsets.items():
                if not exs:
                    continue
                soft, offs = batch_soft(exs, enc, ad, toks, dev, enc.cfg.max_tokens, grad=False, cache=cache)
                preds = greedy_answers(exs, toks, dec, soft, offs, dev, 4 if a.smoke else 24, stop_ids)
                res[f"heldout_{key}"] = round(float(np.mean([score(e.task, p, e.answer) for e, p in zip(exs, preds)])), 4)
                if key.startswith("where"):  # the file part alone (the line number is the harder half)
                    res[f"heldout_{key}_path"] = round(
                        float(np.mean([p.strip().split(":")[0] == e.answer.split(":")[0] for e, p in zip(exs, preds)])), 4
                    )
                if key in ("where_soft", "where_drawn", "summary", "what") and not a.text_control:
                    # The control: every chunk gets another chunk's soft tokens (same order, same headers). An
                    # answer that reads the soft tokens falls under it; one from order or path names does not.
                    shuffled = greedy_answers(exs, toks, dec, shuffled_soft(soft), offs, dev, 4 if a.smoke else 24, stop_ids)
                    if key.startswith("where"):
                        res[f"heldout_{key}_shuffled_path"] = round(
                            float(np.mean([p.strip().split(":")[0] == e.answer.split(":")[0] for e, p in zip(exs, shuffled)])), 4
                        )
                    else:  # prose: ROUGE-L
                        res[f"heldout_{key}_shuffled"] = round(
                            float(np.mean([score(e.task, p, e.answer) for e, p in zip(exs, shuffled)])), 4
                        )
                if key in ("where_soft", "where_drawn") and a.pointer_weight:
                    embeds, _, spans, _ = assemble(exs, toks, dec, soft, offs, 0, dev)
                    qpos = pointer_queries(spans, a.pointer_from, dev)
                    _, logp = dec(embeds, return_hidden=True, probe=(a.pointer_layer, POINTER_HEAD, qpos))
                    res[f"heldout_{key}_pointer"] = round(pointer_loss(logp, spans)[1], 4)
                if key == "where_soft":
                    res["sample"] = [preds[0], exs[0].answer]
                    # file binding (file_loss): do soft positions name their file's path tokens? overall and
                    # for soft positions past 128, where lookup used to fail
                    embeds, _, _, ft = assemble(exs, toks, dec, soft, offs, 0, dev, file_targets=True)
                    m = ft != -100
                    if bool(m.any()):  # the pure-text control has no soft positions
                        hit = dec.logits(dec(embeds, return_hidden=True)[m]).argmax(-1) == ft[m]
                        late = m.nonzero()[:, 1] >= 128
                        res["heldout_file_binding"] = round(float(hit.float().mean()), 4)
                        res["heldout_file_binding_late"] = round(float(hit[late].float().mean()), 4) if bool(late.any()) else None
            if lm_held is not None:  # copying from the start vs from late in the context (see --copy-lead)
                res["heldout_copy_pos0"] = copy_accuracy(dec, lm_held, dev, 0, 4 if a.smoke else 32)
                res["heldout_copy_pos300"] = copy_accuracy(dec, lm_held, dev, 60 if a.smoke else 300, 4 if a.smoke else 32)
        dec.train()
        ad.train()
        return res

    if not a.smoke:  # also on resume: a continued run may change the data (e.g. --rank-files), so its start is measured
        log.write({"stage": a.stage_name, "step": step, "wall_s": round(clock.elapsed(), 1), **evaluate()})
    leg = Leg(a, ck, clock)
    rng = random.Random(31 + step)
    # The file order the decoder is trained with travels in the checkpoint, so that export (manifest
    # decoder.contextOrder) and eval place files the same way.
    state = lambda: {
        "decoder": dec.state_dict(),
        "adapter": ad.state_dict(),
        "opt": opt.state_dict(),
        "context_order": "relevance" if a.rank_files else "repository",
        "recap_chunks": a.recap_chunks,
        # The context size trained with: export writes it as the manifest's decoder.contextPositions.
        "context_positions": max_positions,
        **leg.record(),
    }
    while step < total and clock.elapsed() < leg.deadline:
        n_files = curriculum(step, total)
        exs = []
        while len(exs) < batch:
            if text_mode == "soft" and rng.random() < a.recon_frac:  # E2LLM trains reconstruction alongside the tasks
                f, c = rng.choice(repo_chunks[rng.choices(names, weights)[0]] if a.recon_by_repo else train_chunks)
                exs.append(reconstruction_example(rng, f, c, 32))
                continue
            if text_mode == "soft" and rng.random() < a.retrieved_frac:  # the retrieved row's layout: top-2 chunks as text
                ex = build_example(
                    rng,
                    train[rng.choices(names, weights)[0]],
                    n_files=n_files,
                    max_positions=max_positions,
                    soft_per_chunk=spc,
                    task=rng.choice(mix),
                    relabel=True,
                    text_mode="soft",
                    hybrid_prob=0.0,
                )
                if ex is not None:
                    exs.append(
                        variant(ex, "retrieved", ranked_chunks=ranker.chunks(ex.meta["request"], ex.meta["files"], ex.meta["labels"])[:2])
                    )
                continue
            names_ex = text_mode == "names" or rng.random() < a.text_frac  # pure-text copy examples mixed in
            task = "where" if names_ex else rng.choice(mix)
            # --focus-frac: "what" and summaries over the asked file alone. Lookup already finds the file; what
            # fails is writing its prose from the soft tokens, so some examples train that half without the search.
            focus = task in ("what", "summary") and rng.random() < a.focus_frac
            k = n_files
            if task in ("what", "summary") and a.prose_files:  # --prose-files: find-and-read grows from one file over the leg
                k = prose_files(step, leg.start_step, total, a.prose_files)
            ex = build_example(
                rng,
                train[rng.choices(names, weights)[0]],
                n_files=1 if focus else k,
                max_positions=max_positions,
                soft_per_chunk=spc,
                task=task,
                relabel=True,
                text_mode="names" if names_ex else "soft",
                hybrid_prob=0.5,
                extra_questions=a.extra_names if names_ex else a.extra_questions,
                order=order if order is None or rng.random() >= a.rank_noise else None,
                **recap,
            )
            if ex is not None:
                exs.append(ex)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, total, a.lr, 20)
        soft, offs = batch_soft(exs, enc, ad, toks, dev, enc.cfg.max_tokens, grad=False, cache=cache)
        if len(cache) > 100_000:
            cache.clear()
        with amp(a):
            embeds, tg, spans, ft = assemble(exs, toks, dec, soft, offs, 32, dev, file_targets=bool(a.file_weight))
            if a.pointer_weight:
                loss, (pl, _) = answer_loss(
                    dec, embeds, tg, ft, a.file_weight, pointer=(a.pointer_layer, POINTER_HEAD, spans, a.pointer_from)
                )
                if pl is not None:
                    loss = loss + a.pointer_weight * pl
            else:
                loss = answer_loss(dec, embeds, tg, ft, a.file_weight)
            nl = names_loss(dec, toks, exs, soft, offs) if a.names_weight and soft is not None else None
            if nl is not None:
                loss = loss + a.names_weight * nl
            if a.copy_mix:  # dense copy practice: a code span, other code, then the span again (loss on the repeat)
                lead = rng.randrange(a.copy_lead + 1) if a.copy_lead else 0  # anywhere in the context, not only its start
                loss = loss + copy_loss(dec, lm_ids, rng, a.copy_mix, dev, gap=rng.choice([16, 64, 128]) if a.copy_lead else 64, lead=lead)
            if a.lm_mix:  # keep (and keep improving) the decoder's code LM while it learns the tasks
                starts = rng.sample(range(len(lm_ids) - a.lm_len - 1), a.lm_mix)
                x = torch.tensor(np.stack([lm_ids[s0 : s0 + a.lm_len + 1] for s0 in starts]).astype(np.int64), device=dev)
                lm_logits = dec(dec.embed(x[:, :-1]))
                loss = loss + 0.5 * F.cross_entropy(lm_logits.float().reshape(-1, lm_logits.shape[-1]), x[:, 1:].reshape(-1))
        optimize(opt, loss, list(dec.parameters()) + list(ad.parameters()))
        step += 1
        log_and_save(
            a,
            log,
            a.stage_name,
            step,
            total,
            clock,
            loss,
            evaluate,
            rd / f"{a.stage_name}.pt",
            state,
            extra=lambda: {"files": n_files, "positions": embeds.shape[1]},
        )
    finish_stage(log, a.stage_name, step, clock, evaluate, rd / f"{a.stage_name}.pt", state, leg)
