#!/bin/bash
# llmplan sbatch bundle for plan tiny-cpu: writes /scratch/runs/tiny-cpu
# and submits prepare -> train -> evaluate with afterok dependencies.
set -euo pipefail
mkdir -p /scratch/runs/tiny-cpu/data /scratch/runs/tiny-cpu/checkpoints /scratch/runs/tiny-cpu/eval /scratch/runs/tiny-cpu/logs /scratch/runs/tiny-cpu/jobs
cat > /scratch/runs/tiny-cpu/plan.yaml <<'LLMPLAN_EOF_1128e65aa4f2'
schema_version: 1
name: tiny-cpu
description: A few-million-parameter model on the embedded corpus, for two CPU cores.
llmplan_version: 0.1.0
goals:
  schema_version: 1
  name: tiny-cpu
  description: A few-million-parameter model on the embedded corpus, for two CPU cores.
  objective: fixed-size
  target_params: 1800000.0
  target_tokens: 409600.0
  unique_tokens_available: 110000.0
  inference_tokens: 0.0
  seq_len: 256
  vocab_size: 4096
  budget_usd: null
  budget_gpu_hours: null
  deadline_days: null
  gpu: CPU
  num_gpus: 2
  gpus_per_node: 2
  ownership: rented
  price_per_gpu_hour_usd: 0.05
  gpu_purchase_usd: null
  gpu_lifetime_years: 4.0
  electricity_price_usd_per_kwh: 0.12
  pue: 1.1
  region: us-average
  mfu: null
  data:
    sources:
    - name: pydoc
      path: builtin:pydoc
      format: auto
      text_field: text
      weight: 1.0
      split: train
      max_docs: null
    filters:
      gopher_quality: true
      gopher_repetition: true
      c4: true
      fineweb: true
      min_doc_words: 50
      max_doc_words: 100000
      min_avg_word_length: 3.0
      max_avg_word_length: 10.0
      max_symbol_word_ratio: 0.1
      max_bullet_lines_ratio: 0.9
      max_ellipsis_lines_ratio: 0.3
      max_non_alpha_words_ratio: 0.8
      min_stop_words: 2
      dup_line_frac: 0.3
      dup_para_frac: 0.3
      dup_line_char_frac: 0.2
      dup_para_char_frac: 0.2
      top_n_grams:
      - - 2
        - 0.2
      - - 3
        - 0.18
      - - 4
        - 0.16
      dup_n_grams:
      - - 5
        - 0.15
      - - 6
        - 0.14
      - - 7
        - 0.13
      - - 8
        - 0.12
      - - 9
        - 0.11
      - - 10
        - 0.1
      c4_remove_citations: true
      c4_filter_no_terminal_punct: true
      c4_min_num_sentences: 5
      c4_min_words_per_line: 3
      c4_max_word_length: 1000
      c4_filter_lorem_ipsum: true
      c4_filter_javascript: true
      c4_filter_curly_bracket: true
      c4_filter_policy: true
      line_punct_thr: 0.12
      line_punct_exclude_zero: false
      short_line_thr: 0.67
      short_line_length: 30
      char_duplicates_ratio: 0.01
      new_line_ratio: 0.3
    dedup:
      exact: true
      near: true
      ngram_size: 5
      num_perm: 128
      num_bands: 16
      threshold: 0.8
      seed: 1
    pii:
      enabled: true
      kinds:
      - email
      - phone
      - ip
      - credit_card
      - iban
      - secret
      public_ip_only: true
    tokenizer:
      kind: train-bpe
      vocab_size: 4096
      path: null
      sample_docs: 10000
      min_frequency: 2
      eod_token: <|endoftext|>
    validation_fraction: 0.01
    num_workers: 2
    num_shards: 8
  evaluation:
    tasks:
    - arc_easy
    num_fewshot: 0
    limit: 20
    batch_size: 4
    offline: true
    task_dir: null
    validation_max_tokens: 200000
  training:
    lr_schedule: cosine
    batch_rampup: false
    checkpoint_storage: null
    failure_model: null
    failures_per_gpu_hour: null
  serving:
    gpu: null
    utilisation: 0.3
    context_tokens: null
    price_per_gpu_hour_usd: null
  confidence: p80
  allow_infeasible: false
binding_constraint: target_params and target_tokens
model:
  num_layers: 4
  hidden_size: 128
  num_attention_heads: 4
  num_query_groups: 2
  ffn_hidden_size: 352
  vocab_size: 4096
  seq_length: 256
  activation: swiglu
  position_embedding: rope
  normalization: RMSNorm
  tied_embeddings: false
  add_bias_linear: false
  num_params: 1787008
tokens:
  num_tokens: 409600.0
  unique_tokens: 110000.0
  epochs: 3.7236363636363636
  tokens_per_param: 0.22920994198123343
  effective_tokens: 384581.7289059561
estimate:
  gpu: CPU
  num_gpus: 2
  flops_per_token: 8355840.0
  model_flops: 3422552064000.0
  hardware_flops: 3422552064000.0
  mfu: 0.08968168276401764
  tokens_per_s: 1073.2814745617154
  gpu_hours: 0.21201852538121932
  wallclock_days: 0.0044170526121087355
  cost_usd: 0.010600926269060966
  energy_kwh: 0.0038481362356691307
  energy_cost_usd: 0.00046177634828029567
  co2_kg: 0.0014815324507326153
  total_cost_usd: 0.010600926269060966
  predicted_loss: 37.25397155405318
layout:
  layout:
    tensor_model_parallel_size: 2
    pipeline_model_parallel_size: 1
    virtual_pipeline_model_parallel_size: 1
    context_parallel_size: 1
    data_parallel_size: 1
    micro_batch_size: 4
    global_batch_size: 8
    recompute: none
    sequence_parallel: false
    use_distributed_optimizer: false
    num_layers_in_first_pipeline_stage: null
    num_layers_in_last_pipeline_stage: null
  memory:
    weights_bytes: 3576320.0
    gradients_bytes: 3576320.0
    optimizer_bytes: 7152640.0
    activations_bytes: 38670336.0
    overhead_bytes: 500000000.0
    total_bytes: 552975616.0
    capacity_bytes: 4000000000.0
    num_parameters_per_gpu: 894080
    pipeline_stage: 0
    headroom_fraction: 0.05
  step_time_s: 395.0435487222959
  tokens_per_s: 5.184238564644133
  mfu: 0.0004331866796799603
  gpus_per_node: 2
  num_microbatches: 2
  bubble_fraction: 0.0
  tflops_per_gpu: 2.1659333983998017e-05
  time_breakdown_s:
    compute: 395.03830952016256
    pipeline_bubble: 0.0
    tensor_parallel_comm: 0.0025569621333333334
    context_parallel_comm: 0.0
    pipeline_p2p: 0.0
    data_parallel_comm: 0.0
    optimizer: 0.00268224
  notes: []
recipe:
  precision: fp32
  global_batch_tokens: 2048.0
  lr: 0.008454391460508508
  min_lr: 0.0008454391460508509
  lr_decay_style: cosine
  train_steps: 200
  warmup_steps: 20
  adam_beta1: 0.9
  adam_beta2: 0.95
  adam_eps: 1.0e-08
  weight_decay: 0.1
  clip_grad: 1.0
  hidden_dropout: 0.0
  attention_dropout: 0.0
  init_method_std: 0.02
  seed: 1234
  eval_interval_steps: 50
  eval_iters: 4
  batch_size_rampup: false
  choices:
  - field: global_batch_tokens
    reason: B_opt = 0.292*C^0.3271 = 3,676 tokens for C = 3.42e+12 FLOPs; the layout allows 8 sequences
      = 2,048 tokens (0.56x B_opt; DeepSeek's near-optimal band is wide)
    source: DeepSeek-AI 2024, DeepSeek LLM, arXiv 2401.02954, Sec 3.1 Eq. (1)
  - field: lr
    reason: eta_opt = 0.3118*C^-0.125 = 0.00845 for C = 3.42e+12 FLOPs
    source: DeepSeek-AI 2024, DeepSeek LLM, arXiv 2401.02954, Sec 3.1 Eq. (1)
  - field: train_steps
    reason: ceil(tokens / global batch tokens) = 200 optimizer steps
    source: arithmetic
  - field: warmup_steps
    reason: linear warmup of min(2000, 10% of 200 steps) = 20 steps
    source: Touvron et al. 2023, Llama 2, Sec 2.2 (2000 steps); 10% cap for short runs
  - field: lr_decay_style
    reason: cosine decay over the whole run to min_lr = 10% of peak
    source: Touvron et al. 2023, Llama 2, Sec 2.2; Hoffmann et al. 2022, Chinchilla, App. B (cycle length
      = run length)
  - field: hidden_dropout
    reason: '3.7 epoch(s): near single-epoch pretraining does not overfit, so dropout 0.0 (Llama, Llama
      2, Chinchilla train without it); use 0.1 when repeating data past ~4 epochs. The 0.2-0.5 often quoted
      comes from small networks trained for many epochs (Srivastava et al. 2014: 0.5 hidden / 0.2 input;
      Transformer-big 0.3 on WMT, Vaswani et al. 2017); it costs quality in single-epoch LLM pretraining.'
    source: Touvron et al. 2023 (Llama 2); Muennighoff et al. 2023; Xue et al. 2023
  - field: precision
    reason: 'CPU run: fp32 throughout (no bf16 tensor cores)'
    source: ''
  - field: adam_beta1
    reason: AdamW beta1 0.9, beta2 0.95 (0.95 rather than 0.999 for stability at large batch)
    source: Touvron et al. 2023, Llama 2, Sec 2.2
  - field: adam_eps
    reason: 1e-8, the Megatron-LM and GPT-3 default
    source: Brown et al. 2020, App. B
  - field: weight_decay
    reason: 0.1 decoupled weight decay
    source: Touvron et al. 2023, Llama 2, Sec 2.2
  - field: clip_grad
    reason: clip the global gradient norm at 1.0
    source: Touvron et al. 2023, Llama 2, Sec 2.2
  - field: init_method_std
    reason: normal init with std 0.02
    source: Radford et al. 2019 (GPT-2); Megatron-LM default
  - field: batch_size_rampup
    reason: 'off: constant batch from step 1 (Llama 2, DeepSeek LLM); turn on for very large batches early
      in training'
    source: Brown et al. 2020, GPT-3, App. B
  global_batch_size: 8
  optimal_batch_tokens: 3675.942904149225
  lr_wsd_decay_steps: null
  rampup_batch_size: null
  fp8_available: false
  master_weights_fp32: false
reliability:
  failures_per_gpu_hour: 1.9733e-05
  restart_time_s: 600.00200144896
  checkpoint_bytes: 25018112.0
  checkpoint_write_s: 0.00200144896
  job_mtti_hours: 25338.26584908529
  checkpoint_interval_s: 95.40833642154868
  checkpoint_interval_steps: 50
  expected_interruptions: 4.183819774595348e-06
  lost_hours: 1.475022747364897e-06
  goodput: 0.9999860861005292
  young_interval_s: 604.2643212943801
  daly_interval_s: 604.2629869958101
  failure_free_hours: 0.10600926269060965
  adjusted_wallclock_days: 0.0044171140713898755
  adjusted_gpu_hours: 0.212021475426714
  adjusted_cost_usd: 0.010601073771335701
  extra_cost_usd: 1.475022747364897e-07
  lost_gpu_hours: 2.950045494729794e-06
  interruptions_p10: 3.296411288363617e-278
  interruptions_p90: 5.310122546930259e+266
  storage: parallel-fs
  sources:
  - 'failure rate: Llama Team 2024, The Llama 3 Herd of Models, Sec 3.3.4 and Table 5: 419 unexpected
    interruptions in a 54-day snapshot of pre-training on ~16,384 H100 GPUs (466 in all, 47 planned)'
  - 'restart: assumption: 10 min from failure to the first step before loading; Llama 3 (Sec 3.3.4) reports
    >90% effective training time with automated restarts; the checkpoint read time is added from the storage
    preset'
  - 'storage (parallel-fs): assumption: a mid-size Lustre/GPFS/Weka scratch file system, 100 GB/s aggregate;
    100 Gb/s storage link per node'
  - 'checkpoint size: Megatron-LM theoretical_memory_usage.py (18 B/param in memory incl. 4 B fp32 grads,
    which are not saved); dist_checkpointing saves model and optimizer state'
  - 'interval: Young 1974 (CACM 17(9)); Daly 2006 (FGCS 22(3)) Eq. 37'
  - 'wall time: Daly 2006 complete model T_w = M e^(R/M) (e^((tau+delta)/M) - 1) T_s/tau'
ranges:
  gpu_hours:
    p10: 0.17948460474236397
    p50: 0.21085483034005797
    p90: 0.24770792760500618
    method: 'lognormal: throughput residuals mu=-0.006 sigma=0.126 (n=13; log residuals of GPU-hours vs
      the kind=run rows of published_runs.csv) and failure-rate sigma=0.000'
  wallclock_days:
    p10: 0.0037392625987992486
    p50: 0.004392808965417875
    p90: 0.005160581825104295
    method: 'lognormal: throughput residuals mu=-0.006 sigma=0.126 (n=13; log residuals of GPU-hours vs
      the kind=run rows of published_runs.csv) and failure-rate sigma=0.000'
  cost_usd:
    p10: 0.008974230237118198
    p50: 0.0105427415170029
    p90: 0.012385396380250309
    method: 'lognormal: throughput residuals mu=-0.006 sigma=0.126 (n=13; log residuals of GPU-hours vs
      the kind=run rows of published_runs.csv) and failure-rate sigma=0.000'
  total_cost_usd:
    p10: 0.008974230237118198
    p50: 0.0105427415170029
    p90: 0.012385396380250309
    method: 'lognormal: throughput residuals mu=-0.006 sigma=0.126 (n=13; log residuals of GPU-hours vs
      the kind=run rows of published_runs.csv) and failure-rate sigma=0.000'
  energy_kwh:
    p10: 0.0029544278367064497
    p50: 0.0038270151706720525
    p90: 0.00495732030905897
    method: 'lognormal: throughput residuals mu=-0.006 sigma=0.126 (n=13; log residuals of GPU-hours vs
      the kind=run rows of published_runs.csv) and failure-rate sigma=0.000; energy model sigma=0.158
      (log residuals of energy vs published runs)'
  energy_cost_usd:
    p10: 0.000354531340404774
    p50: 0.0004592418204806463
    p90: 0.0005948784370870762
    method: 'lognormal: throughput residuals mu=-0.006 sigma=0.126 (n=13; log residuals of GPU-hours vs
      the kind=run rows of published_runs.csv) and failure-rate sigma=0.000; energy model sigma=0.158
      (log residuals of energy vs published runs)'
  co2_kg:
    p10: 0.0011374547171319831
    p50: 0.0014734008407087402
    p90: 0.0019085683189877032
    method: 'lognormal: throughput residuals mu=-0.006 sigma=0.126 (n=13; log residuals of GPU-hours vs
      the kind=run rows of published_runs.csv) and failure-rate sigma=0.000; energy model sigma=0.158
      (log residuals of energy vs published runs)'
data:
  sources:
  - name: pydoc
    path: builtin:pydoc
    format: auto
    text_field: text
    weight: 1.0
    split: train
    max_docs: null
  filters:
    gopher_quality: true
    gopher_repetition: true
    c4: true
    fineweb: true
    min_doc_words: 50
    max_doc_words: 100000
    min_avg_word_length: 3.0
    max_avg_word_length: 10.0
    max_symbol_word_ratio: 0.1
    max_bullet_lines_ratio: 0.9
    max_ellipsis_lines_ratio: 0.3
    max_non_alpha_words_ratio: 0.8
    min_stop_words: 2
    dup_line_frac: 0.3
    dup_para_frac: 0.3
    dup_line_char_frac: 0.2
    dup_para_char_frac: 0.2
    top_n_grams:
    - - 2
      - 0.2
    - - 3
      - 0.18
    - - 4
      - 0.16
    dup_n_grams:
    - - 5
      - 0.15
    - - 6
      - 0.14
    - - 7
      - 0.13
    - - 8
      - 0.12
    - - 9
      - 0.11
    - - 10
      - 0.1
    c4_remove_citations: true
    c4_filter_no_terminal_punct: true
    c4_min_num_sentences: 5
    c4_min_words_per_line: 3
    c4_max_word_length: 1000
    c4_filter_lorem_ipsum: true
    c4_filter_javascript: true
    c4_filter_curly_bracket: true
    c4_filter_policy: true
    line_punct_thr: 0.12
    line_punct_exclude_zero: false
    short_line_thr: 0.67
    short_line_length: 30
    char_duplicates_ratio: 0.01
    new_line_ratio: 0.3
  dedup:
    exact: true
    near: true
    ngram_size: 5
    num_perm: 128
    num_bands: 16
    threshold: 0.8
    seed: 1
  pii:
    enabled: true
    kinds:
    - email
    - phone
    - ip
    - credit_card
    - iban
    - secret
    public_ip_only: true
  tokenizer:
    kind: train-bpe
    vocab_size: 4096
    path: null
    sample_docs: 10000
    min_frequency: 2
    eod_token: <|endoftext|>
  validation_fraction: 0.01
  num_workers: 2
  num_shards: 8
evaluation:
  tasks:
  - arc_easy
  num_fewshot: 0
  limit: 20
  batch_size: 4
  offline: true
  task_dir: null
  validation_max_tokens: 200000
assumptions:
- name: gpu
  value: CPU
  unit: ''
  source: 'presets/gpus.yaml: pseudo-device for the tiny demo plan: one CPU core running one torchrun
    process (gloo); figures are order-of-magnitude for a current x86 core (2026-11)'
  used_for: peak FLOP/s, TDP, price
- name: precision
  value: fp32
  unit: ''
  source: planner.throughput.default_precision (bf16 where the GPU has it)
  used_for: peak FLOP/s
- name: peak_flops
  value: 50000000000.0
  unit: FLOP/s
  source: presets/gpus.yaml (2026-11), dense
  used_for: GPU-hours
- name: mfu
  value: 0.0897
  unit: fraction
  source: 'planner.throughput MFU model; Fitted by grid search on the kind=run rows of presets/published_runs.csv
    (copied from ../shared/calibration, 2026-11): A100-80GB from LLaMA/Llama 2/BLOOM, A100-40GB from Pythia,
    V100 from GPT-3 (median |error| of GPU-hours 4.5%, worst BLOOM -26%); `llmplan calibrate` shows the
    table. GPUs without a published whole run take priors from the kind=throughput rows and public reports,
    noted per entry.'
  used_for: GPU-hours = model FLOPs / (peak x MFU) / 3600
- name: num_gpus
  value: 2
  unit: GPUs
  source: goals.num_gpus
  used_for: wall-clock days, MFU scale factor
- name: price_per_gpu_hour_usd
  value: 0.05
  unit: USD/GPU-hour
  source: goals.price_per_gpu_hour_usd
  used_for: cost_usd (rental includes electricity)
- name: gpu_power_utilisation
  value: 0.8
  unit: fraction of TDP
  source: 'Mean board power / TDP of A100/H100 during LLM pretraining: ~75-85% (Llama Team 2024, Sec.
    3.3.4 power swings; Patterson et al. 2021 Table 4: 330 W measured system average per 300 W V100 incl.
    host)'
  used_for: energy_kwh
- name: node_overhead_fraction
  value: 0.3
  unit: fraction of TDP
  source: 'Host CPUs, memory, NICs, switches and storage per GPU as a fraction of GPU TDP: DGX A100 6.5
    kW max with 8x400 W GPUs and DGX H100 10.2 kW with 8x700 W GPUs, at ~50% of the non-GPU maximum'
  used_for: energy_kwh
- name: pue
  value: 1.1
  unit: ''
  source: goals.pue
  used_for: energy_kwh
- name: electricity_price_usd_per_kwh
  value: 0.12
  unit: USD/kWh
  source: goals.electricity_price_usd_per_kwh
  used_for: energy_cost_usd
- name: grid_kg_co2_per_kwh
  value: 0.385
  unit: kg/kWh
  source: 'presets/regions.yaml us-average: US national average used by Touvron et al. 2023 (LLaMA, Sec.
    6.3) and Llama 2 carbon accounting (2023-02)'
  used_for: co2_kg
- name: pinned.layout.tensor_model_parallel_size
  value: 2
  unit: ''
  source: 'presets/pins.yaml: demo plan: TP=2 exercises Megatron tensor parallelism on two CPU processes;
    checkpoints and evaluation every 50 steps give the kill-and-resume tests something to resume from'
  used_for: ''
- name: pinned.layout.pipeline_model_parallel_size
  value: 1
  unit: ''
  source: 'presets/pins.yaml: demo plan: TP=2 exercises Megatron tensor parallelism on two CPU processes;
    checkpoints and evaluation every 50 steps give the kill-and-resume tests something to resume from'
  used_for: ''
- name: pinned.layout.data_parallel_size
  value: 1
  unit: ''
  source: 'presets/pins.yaml: demo plan: TP=2 exercises Megatron tensor parallelism on two CPU processes;
    checkpoints and evaluation every 50 steps give the kill-and-resume tests something to resume from'
  used_for: ''
- name: pinned.layout.micro_batch_size
  value: 4
  unit: ''
  source: 'presets/pins.yaml: demo plan: TP=2 exercises Megatron tensor parallelism on two CPU processes;
    checkpoints and evaluation every 50 steps give the kill-and-resume tests something to resume from'
  used_for: ''
- name: pinned.layout.recompute
  value: none
  unit: ''
  source: 'presets/pins.yaml: demo plan: TP=2 exercises Megatron tensor parallelism on two CPU processes;
    checkpoints and evaluation every 50 steps give the kill-and-resume tests something to resume from'
  used_for: ''
- name: pinned.layout.sequence_parallel
  value: false
  unit: ''
  source: 'presets/pins.yaml: demo plan: TP=2 exercises Megatron tensor parallelism on two CPU processes;
    checkpoints and evaluation every 50 steps give the kill-and-resume tests something to resume from'
  used_for: ''
- name: pinned.layout.use_distributed_optimizer
  value: false
  unit: ''
  source: 'presets/pins.yaml: demo plan: TP=2 exercises Megatron tensor parallelism on two CPU processes;
    checkpoints and evaluation every 50 steps give the kill-and-resume tests something to resume from'
  used_for: ''
- name: pinned.recipe.eval_interval_steps
  value: 50
  unit: ''
  source: 'presets/pins.yaml: demo plan: TP=2 exercises Megatron tensor parallelism on two CPU processes;
    checkpoints and evaluation every 50 steps give the kill-and-resume tests something to resume from'
  used_for: ''
- name: pinned.recipe.eval_iters
  value: 4
  unit: ''
  source: 'presets/pins.yaml: demo plan: TP=2 exercises Megatron tensor parallelism on two CPU processes;
    checkpoints and evaluation every 50 steps give the kill-and-resume tests something to resume from'
  used_for: ''
- name: pinned.reliability.checkpoint_interval_steps
  value: 50
  unit: ''
  source: 'presets/pins.yaml: demo plan: TP=2 exercises Megatron tensor parallelism on two CPU processes;
    checkpoints and evaluation every 50 steps give the kill-and-resume tests something to resume from'
  used_for: ''
- name: binding_constraint
  value: target_params and target_tokens
  unit: ''
  source: planner.derive.size_run
  used_for: model size and tokens
- name: objective
  value: fixed-size
  unit: ''
  source: goals.objective
  used_for: model size and tokens
- name: loss_fit
  value: besiroglu-2024
  unit: ''
  source: 'Besiroglu et al. 2024, Chinchilla Scaling: A replication attempt, Table 1'
  used_for: compute-optimal and inference-optimal sizing, predicted_loss
warnings:
- '1,787,008 parameters is below the smallest model of the loss fits (~70M, Hoffmann et al. 2022): predicted_loss
  is an extrapolation'
serving: null
budget_use: null
hints: []
infeasible: []
approval: null
LLMPLAN_EOF_1128e65aa4f2
cat > /scratch/runs/tiny-cpu/jobs/prepare-shards.sbatch <<'LLMPLAN_EOF_610452ca866e'
#!/bin/bash
#SBATCH --job-name=tiny-cpu-prepare-shards
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=1
#SBATCH --cpus-per-task=1
#SBATCH --mem=2G
#SBATCH --time=0-04:00:00
#SBATCH --output=/scratch/runs/tiny-cpu/logs/prepare-shards-%a.log
#SBATCH --open-mode=append
#SBATCH --array=0-7
#SBATCH --no-requeue
# llmplan prepare-shards stage of plan tiny-cpu; rendered from /scratch/runs/tiny-cpu/plan.yaml
set -uo pipefail
cd /scratch/runs/tiny-cpu
export LLMPLAN_STAGE=prepare-shards
export PYTHONUNBUFFERED=1
export OMP_NUM_THREADS=1
LLMPLAN_PLAN_DESCRIPTION='A few-million-parameter model on the embedded corpus, for two CPU cores.'
LLMPLAN_APPROVAL_NOTE=''
export LLMPLAN_SHARD_INDEX="${SLURM_ARRAY_TASK_ID:-0}" LLMPLAN_NUM_SHARDS=8
exec /opt/llmplan/bin/python -m tui.cli prepare /scratch/runs/tiny-cpu/plan.yaml --out /scratch/runs/tiny-cpu/data --workers 1 --num-shards 8
LLMPLAN_EOF_610452ca866e
prepare_shards_id=$(sbatch --parsable /scratch/runs/tiny-cpu/jobs/prepare-shards.sbatch)
echo "prepare-shards: $prepare_shards_id"
cat > /scratch/runs/tiny-cpu/jobs/prepare.sbatch <<'LLMPLAN_EOF_f83f8ac913d0'
#!/bin/bash
#SBATCH --job-name=tiny-cpu-prepare
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=1
#SBATCH --cpus-per-task=2
#SBATCH --mem=4G
#SBATCH --time=0-04:00:00
#SBATCH --output=/scratch/runs/tiny-cpu/logs/prepare.log
#SBATCH --open-mode=append
#SBATCH --no-requeue
# llmplan prepare stage of plan tiny-cpu; rendered from /scratch/runs/tiny-cpu/plan.yaml
set -uo pipefail
cd /scratch/runs/tiny-cpu
export LLMPLAN_STAGE=prepare
export PYTHONUNBUFFERED=1
export OMP_NUM_THREADS=1
LLMPLAN_PLAN_DESCRIPTION='A few-million-parameter model on the embedded corpus, for two CPU cores.'
LLMPLAN_APPROVAL_NOTE=''
unset SLURM_ARRAY_TASK_ID SLURM_ARRAY_TASK_COUNT LLMPLAN_SHARD_INDEX LLMPLAN_NUM_SHARDS
exec /opt/llmplan/bin/python -m tui.cli prepare /scratch/runs/tiny-cpu/plan.yaml --out /scratch/runs/tiny-cpu/data --workers 2 --num-shards 8
LLMPLAN_EOF_f83f8ac913d0
prepare_id=$(sbatch --parsable --dependency=afterok:"$prepare_shards_id" --kill-on-invalid-dep=yes /scratch/runs/tiny-cpu/jobs/prepare.sbatch)
echo "prepare: $prepare_id"
cat > /scratch/runs/tiny-cpu/jobs/train.sbatch <<'LLMPLAN_EOF_09bf9bf71abe'
#!/bin/bash
#SBATCH --job-name=tiny-cpu-train
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=1
#SBATCH --cpus-per-task=2
#SBATCH --mem=5G
#SBATCH --time=0-00:15:00
#SBATCH --output=/scratch/runs/tiny-cpu/logs/train.log
#SBATCH --open-mode=append
#SBATCH --requeue
#SBATCH --signal=B:USR1@90
# llmplan train stage of plan tiny-cpu; rendered from /scratch/runs/tiny-cpu/plan.yaml
set -uo pipefail
cd /scratch/runs/tiny-cpu
export LLMPLAN_STAGE=train
export PYTHONUNBUFFERED=1
export OMP_NUM_THREADS=1
LLMPLAN_PLAN_DESCRIPTION='A few-million-parameter model on the embedded corpus, for two CPU cores.'
LLMPLAN_APPROVAL_NOTE=''
nodes=( $(scontrol show hostnames "$SLURM_JOB_NODELIST") )
head_node=${nodes[0]}
# rendezvous on the first node's address as Slurm knows it (NodeAddr: its hostname on most clusters)
head_addr=$(scontrol show node "$head_node" -o | grep -o 'NodeAddr=[^ ]*' | cut -d= -f2)
head_addr=${head_addr:-$head_node}
max_restarts=2
attempts=logs/train-attempts.jsonl
requeue=0
on_usr1() {
  echo "llmplan: time limit or preemption near: checkpointing, then requeue"
  requeue=1
  scancel --signal=TERM "$SLURM_JOB_ID"  # every step (torchrun and the ranks), not this shell
}
trap on_usr1 USR1
attempt=0
while :; do
  attempt=$(( attempt + 1 ))
  rdzv_port=$(( 29500 + (SLURM_JOB_ID * 8 + attempt) % 1000 ))
  started=$(date -u +%FT%TZ); log_at=$(stat -c %s logs/train.log 2>/dev/null || echo 0)
  echo "llmplan: train attempt $attempt on ${#nodes[@]} nodes (${nodes[*]}), rendezvous $head_addr:$rdzv_port"
  srun --ntasks-per-node=1 --kill-on-bad-exit=1 --wait=60 --open-mode=append --output=/scratch/runs/tiny-cpu/logs/train-%N-%t.log /opt/llmplan/bin/python -m torch.distributed.run --nnodes=$SLURM_NNODES --nproc_per_node=2 --rdzv_backend=c10d --rdzv_endpoint=$head_addr:$rdzv_port --rdzv_id=$SLURM_JOB_ID-$attempt -m tui.cli train /scratch/runs/tiny-cpu/plan.yaml --data /scratch/runs/tiny-cpu/data --out /scratch/runs/tiny-cpu &
  step_pid=$!
  while :; do
    wait "$step_pid"; rc=$?
    kill -0 "$step_pid" 2>/dev/null || break
  done
  last_step=$(tail -n 1 metrics.jsonl 2>/dev/null | grep -o '"step": *[0-9]*' | grep -o '[0-9]*$')
  ckpt_step=$(cat checkpoints/latest_checkpointed_iteration.txt 2>/dev/null)
  cause=$(tail -c +$(( log_at + 1 )) logs/train.log 2>/dev/null | grep -a 'srun: error: ' | head -n 1 | tr -d '"\\' | cut -c1-200)
  printf '{"job_id": "%s", "attempt": %d, "exit_code": %d, "started": "%s", "ended": "%s", "last_step": %d, "checkpoint_step": %d, "requeue": %d, "cause": "%s"}\n' \
    "$SLURM_JOB_ID" "$attempt" "$rc" "$started" "$(date -u +%FT%TZ)" "${last_step:-0}" "${ckpt_step:-0}" "$requeue" "$cause" >> "$attempts"
  if [ "$requeue" = 1 ]; then scontrol requeue "$SLURM_JOB_ID"; exit 0; fi
  [ "$rc" = 0 ] && break
  if [ "$attempt" -gt "$max_restarts" ]; then echo "llmplan: training failed (exit $rc); no restarts left"; break; fi
  echo "llmplan: training failed (exit $rc) on attempt $attempt: restart $attempt of $max_restarts from the latest checkpoint (step ${ckpt_step:-0})"
  sleep 5
done
exit "$rc"
LLMPLAN_EOF_09bf9bf71abe
train_id=$(sbatch --parsable --dependency=afterok:"$prepare_id" --kill-on-invalid-dep=yes /scratch/runs/tiny-cpu/jobs/train.sbatch)
echo "train: $train_id"
cat > /scratch/runs/tiny-cpu/jobs/evaluate.sbatch <<'LLMPLAN_EOF_6189a914ca74'
#!/bin/bash
#SBATCH --job-name=tiny-cpu-evaluate
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=1
#SBATCH --cpus-per-task=2
#SBATCH --mem=8G
#SBATCH --time=0-04:00:00
#SBATCH --output=/scratch/runs/tiny-cpu/logs/evaluate.log
#SBATCH --open-mode=append
#SBATCH --no-requeue
# llmplan evaluate stage of plan tiny-cpu; rendered from /scratch/runs/tiny-cpu/plan.yaml
set -uo pipefail
cd /scratch/runs/tiny-cpu
export LLMPLAN_STAGE=evaluate
export PYTHONUNBUFFERED=1
export OMP_NUM_THREADS=1
export HF_DATASETS_OFFLINE=1
export HF_HUB_OFFLINE=1
LLMPLAN_PLAN_DESCRIPTION='A few-million-parameter model on the embedded corpus, for two CPU cores.'
LLMPLAN_APPROVAL_NOTE=''
exec /opt/llmplan/bin/python -m tui.cli evaluate /scratch/runs/tiny-cpu
LLMPLAN_EOF_6189a914ca74
evaluate_id=$(sbatch --parsable --dependency=afterok:"$train_id" --kill-on-invalid-dep=yes /scratch/runs/tiny-cpu/jobs/evaluate.sbatch)
echo "evaluate: $evaluate_id"
