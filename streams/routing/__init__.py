"""Model routing by request complexity: cheap text features and a small logistic-regression model.

Pure: no faust, httpx or redis. ``features`` turns a chat request into numbers, ``classifier`` scores
them with the shipped ``complexity_model.json``, and ``train_complexity`` rebuilds that file from
``complexity_train.jsonl``.
"""
