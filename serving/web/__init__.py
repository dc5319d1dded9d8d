"""The managers' web pages: server-rendered Jinja2, English and Hebrew."""
