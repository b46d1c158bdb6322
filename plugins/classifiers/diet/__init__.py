"""DIETClassifier: Rasa's Dual Intent and Entity Transformer, trained in TensorFlow, parsed in numpy.

Modules: :mod:`.config` (Rasa 3.6 keys, defaults, validation), :mod:`.data`
(features to padded arrays, labels, BILOU tags, balanced batches),
:mod:`.numpy_model` (weights and the forward pass used for parsing),
:mod:`.tf_model` (the training model; the only module importing TensorFlow)
and :mod:`.component`.

What this milestone does, and where it differs from Rasa on purpose:

* Input: per token ``[sequence features]``, plus the sentence features as an
  extra last position; sparse and dense, sequence and sentence features of
  every featurizer before it. Sequence and sentence columns are laid out side
  by side (see :mod:`.data`) so one randomly connected sparse-to-dense layer
  (``dense_dimension``, ``connection_density``; a fixed random binary mask
  from the seed) equals Rasa's two; ``concat_dimension`` is accepted but not
  needed (the dims always agree).
* ``connection_density`` masks the sparse-to-dense, feed-forward and
  transformer kernels (as Rasa's ``RandomlyConnectedDense``); the embedding
  and tag layers are fully connected.
* Intent labels: a learned ``(labels x dense_dimension[label])`` table (what
  a one-hot label through Rasa's dense layer is) then a dense layer to
  ``embedding_dimension``.
* ``loss_type: cross_entropy`` over ALL labels instead of Rasa's
  ``number_of_negative_examples`` sampled negatives: exact, and cheap for the
  usual tens to hundreds of intents. ``constrain_similarities`` adds Rasa's
  sigmoid term (positive -> 1, every other label -> 0). Only ``inner``
  similarity (Rasa's ``auto`` for cross-entropy) and ``softmax`` confidences.
* Entities: a linear-chain CRF (log-likelihood in TensorFlow, Viterbi in
  numpy); a tag's confidence is the softmax over tags of the best-path scores
  at its token (as Rasa's CRF); BILOU handling is :mod:`intently.plugins.extractors.bilou`.
* Progress: logged (INFO) every ~10% of the epochs with loss, intent accuracy
  and entity loss; no progress-bar dependency.
* Not yet: masked language model, roles/groups, multi-intent, relative
  attention, evaluation during training, checkpoints, TensorBoard, margin
  loss, cosine similarity, ``featurizers`` selection: turning one on raises
  ComponentConfigError; ``finetune`` continues training with ``epochs`` as given.
"""
