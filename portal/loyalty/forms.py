from wtforms import RadioField
from wtforms.validators import InputRequired

from portal.forms import PlainTextForm


class PointsChoiceForm(PlainTextForm):
    use_points = RadioField("Use my points on this order", choices=[("yes", "Yes"), ("no", "No")],
                            validators=[InputRequired("Choose yes or no.")])
