"""``payrisk monitor``: read the served scores, compare them with the model's reference
profile, measure realized performance, write a self-contained HTML report and log it to
MLflow. The figures come from ``models.monitoring`` (shared with ``/v1/model/health``).
"""
