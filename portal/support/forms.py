from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from portal.forms import PlainTextForm
from portal.support.models import MAX_NOTE_LENGTH


class NoteForm(PlainTextForm):
    body = TextAreaField("Add a note", validators=[
        DataRequired("Write the note first."),
        Length(max=MAX_NOTE_LENGTH, message=f"A note holds at most {MAX_NOTE_LENGTH:,} characters.")])
