from wtforms import RadioField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired

from portal.forms import PlainTextForm


class PointsChoiceForm(PlainTextForm):
    use_points = RadioField("Use my points on this order", choices=[SelectChoice("yes", "Yes"), SelectChoice("no", "No")],
                            validators=[InputRequired("Choose yes or no.")])
