/*
 * layercast_model.h — models, generation and sampling on top of the op API.
 *
 * A model is a Llama-family transformer (Llama, Qwen2, Qwen3) whose matrices
 * are lc_weights (bf16) on a context's backend; it runs in the context's mode:
 *
 *   strict       every op canonical: the same bits on the CPU and the GPU,
 *                whatever the batch, the row's position or the chunking.
 *   fast, bf16   the matmuls on bf16 tensor cores in the fast order v1 (fast:
 *                x split into 3 bf16 parts; bf16: x rounded to bf16), every
 *                other op as strict; the same invariances as strict, and the
 *                CPU emulates the MMAs bit for bit (docs/numerics.md 10).
 *   reference    CPU, plain FP32 with OpenBLAS sgemm.
 *   vendor-bf16  as bf16 engines do: activations and the KV cache are rounded
 *                to bf16 between ops (the values a bf16 tensor would hold;
 *                the buffers stay fp32, so memory is not halved) and the
 *                matmuls are cuBLASLt bf16 GEMMs.
 *   vendor-fp32  LayerCast as published: everything but the stored weights is
 *                FP32; each matmul widens its weight into an FP32 temporary
 *                and calls cuBLASLt SGEMM.
 *
 * Errors follow layercast.h: a status code, and lc_last_error(ctx) (or
 * lc_last_error(NULL) for calls without a context) says what went wrong; a
 * failed call leaves no object behind and its outputs untouched unless said.
 */
#ifndef LAYERCAST_MODEL_H
#define LAYERCAST_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "layercast.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================== *
 *  Configuration
 * ======================================================================== */

typedef enum lc_arch {
  LC_ARCH_LLAMA = 0, /* Llama 2/3, llama2.c checkpoints */
  LC_ARCH_QWEN2 = 1, /* q/k/v projections carry biases */
  LC_ARCH_QWEN3 = 2, /* per-head RMSNorm on q and k before RoPE */
} lc_arch;

/* "llama", "qwen2", "qwen3"; "unknown" otherwise.  Never NULL. */
LC_API const char *lc_arch_name(lc_arch a);
/* Parses those names.  LC_ERR_INVALID_ARGUMENT for NULL or unknown. */
LC_API lc_status lc_arch_from_name(const char *name, lc_arch *out);

/* The most positions a model may have (max_seq_len): its RoPE table holds
 * every position, max_seq_len * head_dim * 4 bytes (16 GiB at head_dim 256).
 * A checkpoint that asks for more is refused with LC_ERR_OVERFLOW before
 * anything is allocated; 2^24 is also the largest size llama2.c detection
 * takes for plausible. */
#define LC_MAX_SEQ_LEN (1 << 24)

typedef struct lc_model_config {
  lc_arch arch;
  int32_t dim;              /* hidden size */
  int32_t hidden_dim;       /* feed-forward (intermediate) size */
  int32_t n_layers;         /* >= 1 */
  int32_t n_heads;          /* query heads */
  int32_t n_kv_heads;       /* key/value heads; divides n_heads */
  int32_t head_dim;         /* dim / n_heads unless the checkpoint says otherwise */
  int32_t vocab_size;       /* rows of the embedding table */
  int32_t max_seq_len;      /* positions the RoPE table covers, 1 .. LC_MAX_SEQ_LEN */
  float norm_eps;           /* RMSNorm epsilon */
  double rope_theta;        /* RoPE base */
  lc_rope_style rope_style; /* llama2.c: INTERLEAVED; Hugging Face: HALF */
  int32_t tied_embeddings;  /* 1: the output projection is the embedding table */
  int32_t qkv_bias;         /* 1: q/k/v projections have biases (Qwen2) */
  int32_t qk_norm;          /* 1: per-head RMSNorm of q and k (Qwen3) */
  int32_t bos_id;           /* -1 when the checkpoint does not say */
  int32_t eos_id;           /* -1 when the checkpoint does not say */
} lc_model_config;

/* ======================================================================== *
 *  Checkpoints and models
 * ======================================================================== */

typedef enum lc_model_format {
  LC_FORMAT_AUTO = 0,    /* a directory or config.json: HF; a file: by content */
  LC_FORMAT_LLAMA2C = 1, /* llama2.c checkpoint (legacy version 0 export) */
  LC_FORMAT_HF = 2,      /* config.json + model.safetensors, or sharded with
                            model.safetensors.index.json */
} lc_model_format;

typedef struct lc_model lc_model;

typedef struct lc_model_load_params {
  lc_model_format format; /* default LC_FORMAT_AUTO */
  int32_t max_seq_len;    /* 0: the checkpoint's; else overrides it */
} lc_model_load_params;

/* Defaults: AUTO, the checkpoint's max_seq_len.  p may not be NULL. */
LC_API void lc_model_load_params_default(lc_model_load_params *p);

/* Loads a checkpoint into bf16 weights on ctx's backend.  path is a
 * llama2.c .bin file, a Hugging Face model directory (config.json and its
 * .safetensors file or shards), or that directory's config.json.  Files are
 * mapped, not copied; bf16 tensors are taken as they are, fp16 and fp32
 * tensors are rounded to bf16 (round to nearest even) and the rounding is
 * reported by lc_model_info.  params may be NULL (the defaults).
 * Returns LC_OK;
 *   LC_ERR_INVALID_ARGUMENT  NULL ctx, path or out;
 *   LC_ERR_NOT_FOUND         path does not exist, or a file the checkpoint
 *                            needs is absent (a folder's config.json, its
 *                            weights, a shard the index names): the message
 *                            names it, "no such file or directory: 'PATH'";
 *   LC_ERR_IO                a file cannot be opened, mapped or read;
 *   LC_ERR_FORMAT            corrupt, truncated or inconsistent files (the
 *                            message names the file, what was expected and
 *                            what was found);
 *   LC_ERR_UNSUPPORTED       an architecture, dtype or feature layercast
 *                            does not implement: a head_dim above
 *                            lc_canon_info.max_head_dim, or a config.json
 *                            key that would change the computation
 *                            (hidden_act other than silu, biases, sliding
 *                            windows, soft-capping, partial rotary, rope
 *                            scaling other than "linear" and "llama3",
 *                            quantization; docs/models.md lists them);
 *   LC_ERR_OVERFLOW          sizes past what layercast represents: a
 *                            max_seq_len (max_position_embeddings, the
 *                            llama2.c seq_len or params.max_seq_len) above
 *                            LC_MAX_SEQ_LEN, a file too large to map;
 *   LC_ERR_OUT_OF_MEMORY, LC_ERR_CUDA.
 * Sizes are checked against each other and against the file before anything
 * is allocated or read.  On failure *out is NULL and nothing stays allocated. */
LC_API lc_status lc_model_load(lc_context *ctx, const char *path,
                               const lc_model_load_params *params, lc_model **out);

/* Frees the model and its weights; NULL is accepted.  Sessions made from it
 * must be freed first. */
LC_API void lc_model_free(lc_model *m);

typedef struct lc_model_info {
  lc_model_config config;
  lc_model_format format;       /* what was loaded */
  int64_t n_params;             /* parameters held (tied tables counted once) */
  size_t weights_bytes;         /* backend bytes of all weights (2 per parameter) */
  int64_t n_tensors;            /* tensors read from the checkpoint */
  lc_conversion_stats rounding; /* summed over every tensor rounded to bf16 */
  lc_dtype source_dtype;        /* dtype of the largest source tensor */
  /* XXH3-128 of the model as loaded, in hex: the config fields that shape
   * the computation (arch, sizes, norm_eps, rope_theta, rope style, tied,
   * qkv_bias, qk_norm, a rope_scaling table) and every tensor's name, shape
   * and stored bf16 bits, in the model's order (embedding, layers, final
   * norm, output).  Two loads hash equal iff they compute the same function
   * (barring collisions), whatever the file format or source dtype;
   * max_seq_len, bos_id and eos_id are left out. */
  char weights_hash[LC_HASH_HEX_LEN];
} lc_model_info;

/* LC_ERR_INVALID_ARGUMENT for NULL. */
LC_API lc_status lc_model_get_info(const lc_model *m, lc_model_info *out);
LC_API lc_context *lc_model_context(const lc_model *m); /* NULL for NULL */

/* ======================================================================== *
 *  Sessions: a KV cache and the temporaries of forward passes
 * ======================================================================== */

typedef struct lc_session lc_session;

typedef struct lc_session_params {
  int32_t n_slots;        /* sequences held at once (cache slots), >= 1; default 1 */
  int32_t max_len;        /* positions per slot; 0: the model's max_seq_len */
  int32_t max_tokens;     /* most tokens one forward pass takes (all entries
                             together): sizes the temporaries; 0: 512 */
  lc_dtype kv_dtype;      /* LC_DTYPE_F32 (default) or LC_DTYPE_BF16: keys and
                             values stored in bf16, 2 bytes each, rounded to
                             nearest even when written (vendor-bf16 always
                             stores them so) */
  int32_t kv_initial_len; /* positions per slot the K and V caches hold at
                             creation; 0: min(max_len, 1024); max_len:
                             all of them, up front (no growth) */
  int32_t no_graphs;      /* CUDA: nonzero launches every op of a decode pass
                             on its own instead of replaying a CUDA graph
                             (the default, 0: graphs; the bits are the same) */
  int32_t tp;             /* tensor-parallel degree, emulated on the model's
                             one context (see below); 0 or 1: none */
} lc_session_params;

/* Tensor parallelism, emulated.  With tp = N > 1 a session runs the split a
 * tensor-parallel engine over N GPUs would, its ranks one after the other on
 * the model's context (CPU or one GPU), so that the invariance of the split
 * can be tested anywhere.  Only column splits (each output element computed
 * whole, by one rank, in the single-device order): rank r owns a contiguous
 * range of the KV heads (and their query heads: attention and the K and V
 * caches are per rank), of the rows of o_proj and down_proj (output columns
 * of the model width), of gate and up (the hidden width) and of the output
 * projection (the vocabulary); ranges are as equal as they can be, r * n /
 * N to (r + 1) * n / N.  The attention output, the MLP hidden state and
 * every projection's output are gathered (copied whole; nothing is added),
 * the norms and residual adds are computed once on the whole rows, as every
 * rank would.  So the logits are bitwise those of tp = 1 at every degree.
 * That holds in strict, fast and bf16, whose matmuls compute each output
 * element in an order that depends on K alone.  The reference and vendor
 * modes take the layout of the engines they stand for (Megatron-style):
 * o_proj and down_proj row-parallel, each rank multiplying its own
 * attention output (its heads) or hidden slice by its columns of W (copies:
 * more weight memory in the emulation), the partial outputs then
 * all-reduced: added in ascending rank order, in fp32, and in vendor-bf16
 * each partial and each sum rounded to bf16 as a bf16 all-reduce stores
 * them.  Their logits therefore may move with tp, as the engines' do.
 * Needs tp <= n_kv_heads (each rank at least one KV head; LC_ERR_SHAPE
 * otherwise).  The joined one-row projections are not used. */

/* The KV caches grow.  A session starts with kv_initial_len positions per
 * slot and, when a forward pass writes past them, doubles that (or goes
 * straight to what the pass needs, at most max_len): new caches are
 * allocated for every layer, each slot's written positions copied over, the
 * old caches freed.  So a long generation pays for the positions it reaches,
 * not for max_len in every slot (a default session of a 128K-position model
 * starts with 1024), at the cost of one copy of the cache per doubling and,
 * while it runs, the old and the new caches at once.  Growing, not paging:
 * the attention kernels read one contiguous [n_slots][len] layout, which a
 * page table would change.  No bit of any result depends on the capacity.
 * A growth that fails (LC_ERR_OUT_OF_MEMORY) leaves the session as it was,
 * the pass not run.
 *
 * CUDA graphs.  On the CUDA backend a decode pass (every entry one token,
 * no layer hook) is captured into a CUDA graph the second time its shape
 * (the number of entries and the cache capacity) comes, and replayed from
 * then on: one launch per pass instead of a dozen per layer.  The graph
 * runs the same kernels on the same buffers, so no bit changes; a session
 * keeps up to 8 such graphs, recaptures one whose scratch memory the
 * context has reallocated since, and falls back to launching op by op
 * where a capture does not hold.  The row indices (token ids, positions,
 * slots) go to the device once per pass, on every path. */

/* Defaults as above.  p may not be NULL. */
LC_API void lc_session_params_default(lc_session_params *p);

/* LC_ERR_INVALID_ARGUMENT, LC_ERR_SHAPE (bad sizes, max_len past the RoPE
 * table, kv_initial_len outside 0 .. max_len), LC_ERR_OVERFLOW (a KV cache
 * of max_len positions per slot of more than 2^40 bytes over all
 * layers, K and V; a temporary past one op's limits), LC_ERR_OUT_OF_MEMORY,
 * LC_ERR_CUDA. */
LC_API lc_status lc_session_create(lc_model *m, const lc_session_params *p, lc_session **out);
LC_API void lc_session_free(lc_session *s); /* NULL is accepted */

/* Decode passes this session ran from a CUDA graph so far (0 on the CPU,
 * with no_graphs, with a layer hook, or for NULL). */
LC_API int64_t lc_session_graph_replays(const lc_session *s);

typedef struct lc_session_memory {
  size_t weights_bytes;        /* the model's weights */
  size_t kv_cache_bytes;       /* this session's K and V caches */
  size_t temp_bytes;           /* this session's activations and logits buffers */
  size_t workspace_peak_bytes; /* the context's op scratch, peak
                                  (lc_memory_stats.workspace_peak_bytes) */
} lc_session_memory;

LC_API lc_status lc_session_get_memory(const lc_session *s, lc_session_memory *out);

/* One sequence's part of a forward pass: n_tokens tokens (host memory) at
 * positions pos .. pos+n_tokens-1 of cache slot `slot`.  The positions
 * before pos must have been written by earlier passes. */
typedef struct lc_batch_entry {
  int32_t slot;          /* 0 .. n_slots-1 */
  int32_t pos;           /* >= 0 */
  int32_t n_tokens;      /* >= 1 */
  const int32_t *tokens; /* host [n_tokens], each 0 .. vocab_size-1 */
} lc_batch_entry;

/* Runs one forward pass over the entries as one batch (their tokens packed
 * in entry order are the rows of every matmul), writes their keys and
 * values into the cache, and returns logits in host memory:
 *   all_logits == 0: logits [n_entries][vocab], the last token of each entry;
 *   all_logits != 0: logits [total tokens][vocab], every token in order.
 * Total tokens may not exceed the session's max_tokens (LC_ERR_SHAPE).
 * LC_ERR_OUT_OF_RANGE for a slot, position or token id out of range; two
 * entries may not share a slot, nor be more than the session's slots
 * (LC_ERR_INVALID_ARGUMENT).  n_entries == 0 does nothing and returns LC_OK
 * (logits may then be NULL).  A pass that writes past the caches' capacity
 * grows them first (see lc_session_params); LC_ERR_OUT_OF_MEMORY from that
 * growth leaves the session as it was, the pass not run.  On a later failure
 * (LC_ERR_OUT_OF_MEMORY, LC_ERR_CUDA) the cache positions the entries were
 * writing, and logits, hold anything: run those positions again before
 * reading them. */
LC_API lc_status lc_session_forward(lc_session *s, const lc_batch_entry *entries, int64_t n_entries,
                                    int all_logits, float *logits);

/* Called during lc_session_forward with the residual stream in host memory
 * [rows][dim] (rows = the pass's total tokens): after layer `layer`
 * (0 .. n_layers-1), and with layer == n_layers for the final RMSNorm's
 * output.  NULL hook turns it off (the default; copying costs time). */
typedef void (*lc_layer_hook)(void *user, int32_t layer, const float *hidden, int64_t rows,
                              int32_t dim);
LC_API lc_status lc_session_set_layer_hook(lc_session *s, lc_layer_hook hook, void *user);

/* ======================================================================== *
 *  Sampling (host, pure: the same logits give the same token on any backend)
 * ======================================================================== */

typedef struct lc_sampler_params {
  float temperature; /* 0: greedy (argmax, the first index on ties) */
  int32_t top_k;     /* 0: off */
  float top_p;       /* in (0, 1]; 1: off */
  uint64_t seed;     /* with (sequence id, position) keys the RNG */
} lc_sampler_params;

/* Greedy, top_k 0, top_p 1, seed 0.  p may not be NULL. */
LC_API void lc_sampler_params_default(lc_sampler_params *p);

#define LC_CAPTURE_TOP_K 8

/* What was chosen at one step, and the logits around it. */
typedef struct lc_token_record {
  int32_t token;                      /* chosen token */
  int32_t pos;                        /* its position in the sequence */
  uint64_t logits_hash;               /* XXH3-64 of the bits of all vocab logits of
                                         this step (little-endian fp32): equal hashes
                                         mean, short of a collision, equal vectors */
  float logit;                        /* its logit */
  float top1_prob;                    /* probability of the largest logit (softmax at T = 1) */
  float margin;                       /* largest logit minus the second largest */
  int32_t n_nan;                      /* NaN logits in this step */
  int32_t top_ids[LC_CAPTURE_TOP_K];  /* the largest logits, descending, */
  float top_logits[LC_CAPTURE_TOP_K]; /* ties by lower index first */
} lc_token_record;

/* Counter-based uniform in [0, 1) keyed by (seed, seq_id, pos, draw):
 * Philox4x32-10, documented in docs/generation.md. */
LC_API double lc_rng_uniform(uint64_t seed, uint64_t seq_id, int32_t pos, uint32_t draw);

/* Chooses the token at position pos of sequence seq_id from logits (host
 * [vocab]) and fills *out.  NaN logits are never chosen unless every logit
 * is NaN (then token 0).  LC_ERR_INVALID_ARGUMENT for NULL or bad
 * parameters (temperature < 0 or not finite, top_k < 0, top_p outside (0,1]). */
LC_API lc_status lc_sample(const float *logits, int32_t vocab, const lc_sampler_params *p,
                           uint64_t seq_id, int32_t pos, lc_token_record *out);

/* ======================================================================== *
 *  Generation over a changing batch
 * ======================================================================== */

/* The tokens a sequence ends after (a model's end-of-sequence ids:
 * lc_stop_ids_for_model in layercast_text.h): ids[0..n), each below the
 * vocabulary.  Zero-initialised it holds none. */
#define LC_MAX_STOP_TOKENS 8
typedef struct lc_stop_set {
  int32_t n; /* 0 .. LC_MAX_STOP_TOKENS */
  int32_t ids[LC_MAX_STOP_TOKENS];
} lc_stop_set;

/* A set of the one id `token`, or none for token < 0. */
LC_API lc_stop_set lc_stop_set_one(int32_t token);
/* 1 when token is in s (s NULL: 0). */
LC_API int lc_stop_set_has(const lc_stop_set *s, int32_t token);

/* One sequence of a generation run.  Inputs are read, outputs written. */
typedef struct lc_gen_sequence {
  uint64_t seq_id;       /* keys the sampler's RNG */
  const int32_t *prompt; /* host [prompt_len], prompt_len >= 1 */
  int32_t prompt_len;
  int32_t max_new_tokens;   /* >= 0 */
  int32_t join_step;        /* the step at which it joins the batch (>= 0) */
  lc_stop_set stop;         /* generation ends after any of these */
  int32_t *tokens;          /* out: host [max_new_tokens] */
  lc_token_record *records; /* out: NULL or host [max_new_tokens] */
  int32_t n_generated;      /* out */
} lc_gen_sequence;

typedef struct lc_gen_params {
  lc_sampler_params sampler;
  int32_t prefill_chunk; /* most prompt tokens a sequence feeds per step; 0: all */
} lc_gen_params;

/* Generates for all sequences, continuous-batching style: at each step the
 * sequences that have joined and not finished, in array order, form the
 * batch; each feeds its next prompt chunk, or its last token.  A sequence
 * takes a free cache slot when it joins and gives it back when it ends.
 * In strict mode a sequence's tokens and records do not depend on the other
 * sequences, their number, order, join steps or the chunking.
 * LC_ERR_SHAPE when more sequences are active at once than the session has
 * slots (counted as if every sequence ran to max_new_tokens), or a sequence
 * outgrows max_len; LC_ERR_OUT_OF_RANGE for a prompt token outside the
 * vocabulary; the usual statuses otherwise.  Everything is checked before the
 * first forward pass, and a failed call writes no output (tokens, records and
 * n_generated keep their values).  Steps with more tokens than the session's
 * max_tokens run as several forward passes (docs/generation.md). */
LC_API lc_status lc_generate(lc_session *s, lc_gen_sequence *seqs, int64_t n_seqs,
                             const lc_gen_params *p);

/* ======================================================================== *
 *  Log-likelihoods (teacher-forced; docs/generation.md "Log-likelihoods")
 * ======================================================================== */

/* Scores cont[0..n_cont) after context[0..n_context) (n_context >= 1,
 * n_cont >= 1) in cache slot 0 of s (its earlier contents are overwritten),
 * feeding the tokens in forward passes of at most the session's
 * max_tokens: the context but its last token with all_logits = 0, then the
 * rest with all_logits = 1, each part cut at every max_tokens tokens.  The
 * results do not depend on max_tokens in strict, fast and bf16; in
 * reference and the vendor modes the cut may change bits.
 * Log-probabilities are natural logs of the softmax at T = 1, computed in
 * float64 on the host from the fp32 logits (NaN logits carry no
 * probability: a NaN target logit gives -Inf, a row of NaN gives NaN), so
 * equal logits give equal bits on every backend.  Outputs (any may be NULL):
 *   token_logprob [n_cont]  log p(cont[i] | context, cont[0..i));
 *   token_greedy  [n_cont]  1 where cont[i] is the token greedy generation
 *                           picks (lc_sample at temperature 0: the first
 *                           index of the largest non-NaN logit; token 0 when
 *                           every logit is NaN), else 0;
 *   sum_logprob             their sum, added in order;
 *   all_greedy              1 when every token is greedy.
 * Host memory: min(n_cont, max_tokens) rows of vocab floats for the logits.
 * LC_ERR_INVALID_ARGUMENT for a NULL s, context or cont, or a count below 1;
 * LC_ERR_SHAPE when n_context + n_cont exceeds the session's max_len;
 * LC_ERR_OUT_OF_RANGE for a token outside the vocabulary;
 * LC_ERR_OVERFLOW, LC_ERR_OUT_OF_MEMORY, and a forward pass's statuses.
 * Everything is checked before the first pass; on failure no output is
 * written (slot 0 of the cache may hold anything). */
LC_API lc_status lc_loglik(lc_session *s, const int32_t *context, int32_t n_context,
                           const int32_t *cont, int32_t n_cont, double *token_logprob,
                           int32_t *token_greedy, double *sum_logprob, int32_t *all_greedy);

typedef struct lc_perplexity_result {
  double nll_sum;    /* minus the summed log-probability of the scored tokens,
                        added in token order */
  int64_t n_scored;  /* tokens scored: n - 1 (every token but the first) */
  double ppl;        /* exp(nll_sum / n_scored) */
  int64_t n_windows; /* forward windows run */
} lc_perplexity_result;

/* Perplexity of tokens[0..n) (n >= 2) with a sliding window, in cache slot
 * 0 of s: windows [b, min(b + window, n)) for b = 0, stride, 2 stride, ...,
 * up to the first that reaches n; window 0 means the session's max_len
 * (window >= 2), stride 0 means window / 2 (1 <= stride < window).  Each
 * window scores, with lc_loglik's rule and passes, the tokens from the end
 * of the previous window (from 1 in the first) to its own end, the tokens
 * before them in the window as context; so each token is scored once, in
 * the first window that holds it, with the most context a window gives it
 * (the Hugging Face "perplexity of fixed-length models" scheme;
 * docs/generation.md).  window = n gives -nll_sum == lc_loglik's
 * sum_logprob of tokens[1..n) after tokens[0], bit for bit.
 * LC_ERR_INVALID_ARGUMENT for NULL, n < 2, window 1 or negative, stride
 * negative or >= window; LC_ERR_SHAPE for a window above max_len;
 * LC_ERR_OUT_OF_RANGE for a token outside the vocabulary (all checked
 * before the first pass); on failure *out is untouched. */
LC_API lc_status lc_perplexity(lc_session *s, const int32_t *tokens, int64_t n, int32_t window,
                               int32_t stride, lc_perplexity_result *out);

/* ======================================================================== *
 *  Synthetic checkpoints
 * ======================================================================== */

typedef struct lc_synth_params {
  lc_model_config config; /* shapes and flags (arch decides bias/qk-norm) */
  uint64_t seed;          /* weights are a function of the seed and names */
  lc_dtype dtype;         /* tensor dtype in the files: F32, BF16 or F16 */
  int32_t n_shards;       /* 1: model.safetensors; > 1: shards + index */
} lc_synth_params;

/* A small Llama-shaped default (dim 256, 4 layers, vocab 1024, ...). */
LC_API void lc_synth_params_default(lc_synth_params *p);

/* Fills *p with a named preset: "tiny" (the defaults above) or
 * "llama3-8b-shape" (Llama 3 8B's layer shapes: dim 4096, hidden 14336, 32
 * heads, 8 kv heads, head_dim 128, vocab 128256, theta 500000, untied, bf16;
 * 2 layers and max_seq_len 2048, both meant to be changed as needed).
 * LC_ERR_INVALID_ARGUMENT for NULL or an unknown name (*p untouched). */
LC_API lc_status lc_synth_params_preset(lc_synth_params *p, const char *name);

/* Writes a Hugging Face checkpoint (config.json and safetensors) into the
 * directory dir (created if missing).  Weights are random with a scale that
 * keeps activations in range (docs/models.md).
 * The parameters are checked first, by the rules lc_model_load applies to a
 * config, so a checkpoint it writes loads, and one that would not load is
 * refused before anything (not even dir) is written.
 * Every file is written to a temporary beside its final name and renamed
 * into place (replacing a file of that name); then the weight files of an
 * earlier checkpoint that this write did not produce are removed
 * (model.safetensors, model-NNNNN-of-NNNNN.safetensors,
 * model.safetensors.index.json), so that on LC_OK the folder holds exactly
 * the new checkpoint.  Files of other names are never touched.  A failure
 * while writing removes the temporaries and leaves the earlier checkpoint
 * as it was.
 * lc_last_error(NULL) explains failures: LC_ERR_INVALID_ARGUMENT,
 * LC_ERR_SHAPE, LC_ERR_UNSUPPORTED (a head_dim above
 * lc_canon_info.max_head_dim), LC_ERR_IO (also when a stale weight file
 * cannot be removed: the new checkpoint is then in place), LC_ERR_OVERFLOW,
 * LC_ERR_OUT_OF_MEMORY. */
LC_API lc_status lc_synth_write(const char *dir, const lc_synth_params *p);

#ifdef __cplusplus
}
#endif
#endif /* LAYERCAST_MODEL_H */
