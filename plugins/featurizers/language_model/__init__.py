"""Dense features from pre-trained BERT-family encoders, run in numpy (``LanguageModelFeaturizer``)."""
