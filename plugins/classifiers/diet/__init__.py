"""DIETClassifier: Rasa's Dual Intent and Entity Transformer, trained in TensorFlow, parsed in numpy.

Modules: :mod:`.config` (Rasa 3.6 keys, defaults, validation), :mod:`.data`
(features to padded arrays, labels, BILOU tags, balanced batches),
:mod:`.weights` (the weights' names and shapes, connections, initial values, archive files),
:mod:`.numpy_model` (the forward pass used for parsing, over the weights),
:mod:`.kernels` (dense products, block by block for grouped connections),
:mod:`.numpy_transformer` (its transformer encoder, row- or feature-major),
:mod:`.inference` (the parse path from the featurizers' blocks),
:mod:`.sparse_product` (the featurizers' sparse blocks times the first kernel),
:mod:`.parse_schedule` (row batches, decode groups and parse threads),
:mod:`intently.plugins.linear_chain` (every Viterbi variant and the BILOU constraints, shared with
CRFEntityExtractor),
:mod:`.training` (metrics, hold-out evaluation, checkpoints, progress),
:mod:`.tf_model` (the training model; the only module importing TensorFlow)
and :mod:`.component`.

What it does, and where it differs from Rasa on purpose:

* Input: per token ``[sequence features]``, plus the sentence features as an
  extra last position; sparse and dense, sequence and sentence features of
  every featurizer before it. Sequence and sentence columns are laid out side
  by side (see :mod:`.data`) so one sparsely connected sparse-to-dense layer
  (``dense_dimension``, ``connection_density``) equals Rasa's two;
  ``concat_dimension`` is accepted but not needed (the dims always agree).
* ``connection_density`` masks the sparse-to-dense, feed-forward and
  transformer kernels (as Rasa's ``RandomlyConnectedDense``); the embedding
  and tag layers are fully connected. Rasa keeps each weight at random; here
  inputs and outputs are dealt at random into ``round(1/density)`` groups,
  connected group to group (:func:`.weights.connection_groups`): as many
  weights, and parsing multiplies one small block per group. Models trained
  before grouping keep their per-weight random masks.
* Intent labels: a learned ``(labels x dense_dimension[label])`` table (what
  a one-hot label through Rasa's dense layer is) then a dense layer to
  ``embedding_dimension``. With the tokenizer's ``intent_tokenization_flag``,
  a multi-intent label (``greet+inform``) is the sum of its parts' rows, so
  it shares what is learnt about each part (Rasa gets this from featurizing
  the intent tokens).
* ``loss_type: cross_entropy`` over ALL labels instead of Rasa's
  ``number_of_negative_examples`` sampled negative labels: exact, and cheap
  for the usual tens to hundreds of intents. Rasa's batch terms are kept:
  for each message ``number_of_negative_examples`` other messages of the
  batch are drawn, and its label's similarities with those of other intents
  join the softmax (a label must score its own messages above the others);
  the similarities of its text with theirs and of its label with drawn
  other labels join the softmax too, or, with ``constrain_similarities``,
  Rasa's sigmoid term (positive -> 1, everything else -> 0) instead, averaged
  over all of them as Rasa averages it over its candidates. On a Banking77
  development set (``train-30`` → 10 other messages per intent) the batch
  terms lift intent accuracy from 79.5 to 84.2 %. Only ``inner`` similarity (Rasa's
  ``auto`` for cross-entropy) and ``softmax`` confidences.
* Entities, roles and groups: one linear-chain CRF head each (log-likelihood
  in TensorFlow, Viterbi in numpy); a tag's confidence is the softmax over
  tags of the best-path scores at its token (as Rasa's CRF). With BILOU tags
  impossible sequences (``O`` then ``I-x``, ``B-x`` then ``O``, ...) are
  forbidden in training and decoding, so no entity comes out broken.
* ``sentence_to_tags`` (intently's own key, on by default): every token's tag
  scores also get a term from the sentence position's output, so entity
  types can depend on what the message is about (on ``snips/train-100.yml``
  entity F1 74.1 -> 78.1 % with ``transformer_size: 128``; movie names and
  book titles were the commonest confusion).
* The CRF transitions learn 10x faster than the rest (Adam's steps are
  about ``learning_rate`` in size, and transition scores need to reach values
  of order 1-10 in the few hundred steps of a small data set).
* ``linear_shortcut`` (intently's own key, off by default): a linear path
  from the sparse features to the intent and tag scores, trained jointly
  (wide-and-deep, also at 10x the learning rate). It made no measurable
  difference on ``snips/train-100.yml``, hence off.
* ``use_masked_language_model``: 15 % of token positions are masked (80 % a
  learned vector, 10 % another masked token of the batch, 10 % kept) and
  predicted back by dot-product similarity against the batch's masked tokens.
* Training metrics per epoch: loss, intent accuracy, entity loss, and the
  entity F1 of the epoch's last batch; with ``evaluate_on_number_of_examples``
  held out, ``val_i_acc``/``val_e_f1`` every ``evaluate_every_number_of_epochs``
  and after the last epoch (-1: only then; holding out more than leaves one
  example of every label is an error); ``drop_small_last_batch`` leaves out
  an epoch's last batch when it is under half full;
  ``checkpoint_model`` keeps the weights of the best validation score (mean of
  the two). Shown on a progress bar on terminals, logged at INFO every ~10 %.
* Not supported (turning one on raises ComponentConfigError): relative
  attention, unidirectional encoder, shared hidden layers, TensorBoard,
  margin loss, cosine similarity, ``featurizers`` selection.
"""
