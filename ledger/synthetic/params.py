"""The synthetic ledger's process, in numbers: every coefficient lives here, nowhere else.

The generator is a small structural model of an accounts-receivable book:

* each customer has a latent payment *discipline* (a logit offset; higher = later) that
  drifts as a mean-reverting monthly random walk around its own baseline;
* some customers go through a financial *stress episode*: from onset they pay in small
  instalments (payments shrink, visibly, on invoices issued before the episode), then
  after ``STRESS_QUIET_DAYS`` the lateness of new invoices ramps up (they go very late
  only later); they recover, or the supplier puts them on credit hold and their
  invoices stay open;
* an invoice is late with probability ``sigmoid(late logit)`` decided at issue from the
  state at issue; a late invoice's days late follow a log-logistic law whose survival
  function is closed form, so the oracle probabilities are exact (see ``oracle.py``).

Rates: an average customer gets ``~22`` invoices a year (enterprise ``~70``, mid-market
``~28``, small ``~10``), so ``--customers 15000 --years 3`` gives about 1M invoices and the
demo ledger (400 customers, 3 years) about 27k.
"""

from __future__ import annotations

# --- customers -----------------------------------------------------------------------
SEGMENTS = ("enterprise", "mid-market", "small")
SEGMENT_SHARES = (0.12, 0.33, 0.55)
SEGMENT_INVOICES_PER_YEAR = (95.0, 37.0, 13.0)
INVOICE_RATE_SPREAD_LOG = 0.45  # lognormal spread of a customer's rate around its segment's
SEGMENT_TYPICAL_AMOUNT_USD = (18000.0, 5000.0, 1200.0)
TYPICAL_AMOUNT_SPREAD_LOG = 0.6  # between customers
INVOICE_AMOUNT_SPREAD_LOG = 0.55  # one customer's invoices around its typical amount
SEGMENT_DISCIPLINE_MEAN = (0.25, 0.0, 0.15)
SEGMENT_DISCIPLINE_SPREAD = (1.0, 1.2, 1.4)

COUNTRIES = ("IL", "US", "GB", "DE", "FR", "NL", "ES")
COUNTRY_SHARES = (0.30, 0.28, 0.12, 0.10, 0.08, 0.06, 0.06)
COUNTRY_DISCIPLINE = (0.25, 0.0, 0.0, -0.35, 0.2, -0.25, 0.3)
COUNTRY_LANGUAGE = ("he", "en", "en", "de", "fr", "nl", "es")
COUNTRY_CURRENCY = ("ILS", "USD", "GBP", "EUR", "EUR", "EUR", "EUR")
ISRAELI_USD_SHARE = 0.15  # Israeli tech customers often bill in dollars
USD_PER_UNIT = {"USD": 1.0, "ILS": 0.27, "EUR": 1.09, "GBP": 1.27}

INDUSTRIES = (
    "software",
    "manufacturing",
    "retail",
    "construction",
    "healthcare",
    "logistics",
    "wholesale",
    "professional services",
)
INDUSTRY_DISCIPLINE = (-0.2, 0.0, 0.2, 0.45, -0.1, 0.1, 0.15, -0.15)

EXISTING_CUSTOMER_SHARE = 0.75  # onboarded before the ledger starts; the rest during it
MAX_TENURE_DAYS = 3650
CHURN_MEAN_YEARS = 12.0  # customers stop buying after an exponential time
PAPERLESS_CUSTOMER_SHARE = 0.7
PAPERLESS_INVOICE_SHARE = (0.1, 0.95)  # per invoice, for paper / paperless customers
CREDIT_LIMIT_MONTHS = 3.0  # credit limit ~ this many months of typical billing

# --- terms ---------------------------------------------------------------------------
TERMS = ("net30", "net60", "eom+30", "eom+60", "eom+90")
TERMS_DAYS = (30, 60, 30, 60, 90)
TERMS_END_OF_MONTH = (False, False, True, True, True)
TERMS_SHARES_ISRAEL = (0.1, 0.1, 0.4, 0.3, 0.1)  # Israel mostly "shotef+" (end of month)
TERMS_SHARES_OTHER = (0.55, 0.25, 0.1, 0.07, 0.03)
TERMS_OFF_CONTRACT_SHARE = 0.08  # invoices on other terms than the customer's usual
TERMS_LATE_LOGIT = (0.0, -0.15, 0.1, -0.1, -0.25)

# --- calendar seasonality of issuing -------------------------------------------------
MONTH_END_DAYS = 3  # the last days of a month get ...
MONTH_END_WEIGHT = 2.5  # ... this many times the invoices of an ordinary weekday
WEEKEND_WEIGHT = 0.1
LATE_DECEMBER_ISSUE_WEIGHT = 0.6  # holidays: fewer invoices from Dec 20

# --- latent discipline drift ---------------------------------------------------------
DRIFT_PERSISTENCE_MONTHLY = 0.95  # AR(1) coefficient of the deviation from baseline
DRIFT_STEP_MONTHLY = 0.08  # so the stationary deviation is ~0.26 logit

# --- optional market shock (off by default; GeneratorConfig.shock_date) ---------------
# A recession or a changed dunning policy: from the shock date every customer's discipline
# worsens by ``GeneratorConfig.shock_strength`` logit, reached over this many days. Through
# the lateness law it raises both the share of late invoices and their days late
# (``DELAY_DISCIPLINE`` per logit), for invoices issued from then on.
SHOCK_RAMP_DAYS = 30

# --- stress episodes -----------------------------------------------------------------
STRESS_EPISODES_PER_YEAR = 0.07  # per customer; at most one episode each
STRESS_LEAD_DAYS = 180  # an episode may have begun this long before the ledger starts
STRESS_MEDIAN_DAYS = 200
STRESS_SPREAD_LOG = 0.4
STRESS_RECOVERY_SHARE = 0.6
STRESS_QUIET_DAYS = 45  # instalments start at onset; lateness only after this long ...
STRESS_RAMP_DAYS = 45  # ... and then grows to full severity over this long
STRESS_DECAY_DAYS = 60  # after recovery the severity fades over this long
STRESS_MAX_SEVERITY = 1.6  # unrecovered: severity keeps ramping up to this
CREDIT_HOLD_AFTER_DAYS = (120, 270)  # unrecovered: invoicing stops this long after onset
STRESS_INVOICE_RATE = 0.7  # stressed customers buy a bit less

# --- lateness, decided at issue from the state at issue -------------------------------
LATE_INTERCEPT = -0.75
LATE_AMOUNT = 0.35  # per standard deviation of log(amount / customer's typical)
LATE_PAPER = 0.2
LATE_DECEMBER_DUE = 0.55  # due from Dec 15 to Jan 10: year-end approvals are slow
LATE_STRESS = 3.0  # per unit of severity
LATE_DISPUTED = 1.6

DELAY_SHAPE = 2.0  # log-logistic shape of days late, given late
DELAY_LOG_SCALE = 2.3  # log(days): median days late ~10 for an average customer
DELAY_DISCIPLINE = 0.35
DELAY_STRESS = 1.3
DELAY_AMOUNT = 0.15
DELAY_DISPUTED = 0.7
DELAY_MAX_DAYS = 100_000.0

ON_TIME_POWER = 3.0  # on time: paid at issue + ceil(V * term), V ~ Beta(3, 1)

# --- disputes ------------------------------------------------------------------------
DISPUTE_INTERCEPT = -3.6
DISPUTE_AMOUNT = 0.4
DISPUTE_STRESS = 0.8
DISPUTE_ENTERPRISE = 0.3
DISPUTE_OPEN_DAYS = (2, 20)  # opened this many days after issue (uniform, inclusive)
DISPUTE_RESOLVED_BEFORE_PAYMENT_DAYS = (0, 7)

# --- payments ------------------------------------------------------------------------
PARTIAL_SHARE = 0.06
PARTIAL_SHARE_IN_STRESS = 0.7
INSTALMENTS = (2, 4)  # inclusive
STRESS_FIRST_PART_WEIGHT = 0.25  # in stress the first instalment is ~4x smaller
UNAPPLIED_CUSTOMER_SHARE = 0.15
UNAPPLIED_PER_YEAR = 1.0
UNAPPLIED_AMOUNT_SHARE = (0.05, 0.5)  # of the customer's typical amount

# --- collection activities -----------------------------------------------------------
DUNNING_DAYS_OVERDUE = (7, 21, 45)
CALL_DAYS_OVERDUE = 30
CALL_SHARE = 0.6  # enterprise and mid-market invoices only
PROMISE_SHARE = 0.35  # after a reminder or call
PROMISE_HONEST_SHARE = 0.7
PROMISE_HONEST_SHARE_IN_STRESS = 0.3
PROMISE_WITHIN_DAYS = 30  # an honest promise names the real date when it is this close
NOTES_PER_INVOICE = 0.03
