"""Pages of studies ("judging sessions" on the pages): create one, join one, play in one,
run one, read its results.

The organiser's key travels in the organiser link's fragment (`#key=...`), which
browsers never send to a server; the organiser page posts it once, and the signed
session cookie then remembers which sessions this browser organises. A wrong key and
an unknown code get the same answer.
"""
from __future__ import annotations

from flask import (
    Blueprint, Response, abort, current_app, jsonify, redirect, render_template, request,
    session, url_for,
)
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from ..extensions import db
from ..game import arena_of
from ..judging import studies
from ..models import JUDGE, Study
from .main import clean_nickname, client_version, current_player, http_error

bp = Blueprint("studies", __name__)
NOT_FOUND = "There is no session with that code. Check the link you were given."
BAD_KEY = "That organiser key does not open this session."


def _error(message: str, status: int) -> ResponseReturnValue:
    return render_template("session_error.html", message=message), status


def _study_or_404(code: str) -> Study:
    found = studies.by_code(code)
    if found is None:
        abort(404, NOT_FOUND)
    return found


def _organises(found: Study) -> bool:
    return found.id in session.get("organises", [])


def _remember_organiser(found: Study) -> None:
    session["organises"] = [i for i in session.get("organises", []) if i != found.id][-19:] + [found.id]


def _organiser_only(code: str) -> Study:
    """The study, if this browser organises it; otherwise the same 403 whatever the code."""
    found = studies.by_code(code)
    if found is None or not _organises(found):
        abort(403, BAD_KEY)
    return found


def _private(response: Response) -> Response:
    response.cache_control.no_store = True
    return response


@bp.errorhandler(404)
@bp.errorhandler(403)
def _refused(error: HTTPException) -> ResponseReturnValue:
    """A page for people; the site's JSON error for the downloads and live figures."""
    if request.path.endswith((".json", ".csv")):
        return http_error(error)
    return _error(error.description, error.code)


@bp.route("/sessions/new", methods=["GET", "POST"])
def new() -> ResponseReturnValue:
    """The organiser's form; a valid one creates the study and shows its two links once."""
    current_player()
    names = [m.name for m in arena_of(current_app).roster.all()]
    form, errors = request.form, []
    if request.method == "POST":
        try:
            settings = studies.settings_from_form(form, names)
        except ValueError as exc:
            errors = str(exc).splitlines()
        else:
            created, token = studies.create(settings)
            _remember_organiser(created)
            join_url = url_for("studies.join", code=created.code, _external=True)
            organiser_url = url_for("studies.organise", code=created.code, _external=True) + "#key=" + token
            return _private(current_app.make_response(render_template(
                "session_created.html", s=created, join_url=join_url, organiser_url=organiser_url)))
    return render_template("session_new.html", machines=names, form=form, errors=errors,
                           cfg=current_app.config), 400 if errors else 200


@bp.route("/s/<code>", methods=["GET", "POST"])
def join(code: str) -> ResponseReturnValue:
    """Participants choose a role the organiser allowed and, if they like, a nickname."""
    found = _study_or_404(code)
    player = current_player()
    role = studies.role_of(found, player.id)
    if found.closed_at is not None:
        return _error("This session has ended. Thank you for taking part.", 410)
    if request.method == "POST":
        try:
            studies.join(found, player, request.form.get("role"))
        except studies.StudyError as exc:
            return render_template("session_join.html", s=found, role=role, player=player,
                                   error=exc.message), exc.status
        player.nickname = clean_nickname(request.form.get("nickname"))
        db.session.commit()
        return redirect(url_for("studies.play", code=found.code))
    return render_template("session_join.html", s=found, role=role, player=player, error=None)


@bp.get("/s/<code>/play")
def play(code: str) -> ResponseReturnValue:
    """The study's chat page: the open game's page, naming the study on `find_game`."""
    found = _study_or_404(code)
    role = studies.role_of(found, current_player().id)
    if role is None:
        return redirect(url_for("studies.join", code=found.code))
    cfg = {**current_app.config, "GAME_SECONDS": found.game_seconds}
    return render_template("play.html", cfg=cfg, client_version=client_version(),
                           study=found, role=role, judge=role == JUDGE)


@bp.route("/s/<code>/organise", methods=["GET", "POST"])
def organise(code: str) -> ResponseReturnValue:
    """The organiser's live page; without the key in the cookie, a form that takes it."""
    found = studies.by_code(code)
    if request.method == "POST":
        if not studies.key_matches(found, request.form.get("key")):
            return _error(BAD_KEY, 403)
        _remember_organiser(found)
        return redirect(url_for("studies.organise", code=found.code))
    if found is None or not _organises(found):
        return _private(current_app.make_response(render_template("session_key.html", code=code)))
    return render_template("session_organise.html", s=found,
                           join_url=url_for("studies.join", code=found.code, _external=True),
                           live=studies.live(found, arena_of(current_app)))


@bp.get("/s/<code>/live.json")
def live(code: str) -> ResponseReturnValue:
    """What the organiser's page shows, for its refresh every few seconds."""
    return _private(jsonify(studies.live(_organiser_only(code), arena_of(current_app))))


@bp.post("/s/<code>/close")
def close(code: str) -> ResponseReturnValue:
    """The organiser ends the study: no new games; running games play to their end."""
    found = _organiser_only(code)
    studies.close(found, arena_of(current_app))
    return redirect(url_for("studies.results", code=found.code))


@bp.get("/s/<code>/results")
def results(code: str) -> ResponseReturnValue:
    """Statistics of the study; the organiser always, participants once results are open."""
    found = _study_or_404(code)
    organiser = _organises(found)
    if not organiser and not (studies.results_visible(found)
                              and studies.role_of(found, current_player().id)):
        return _error("The results of this session are not open yet.", 403)
    return render_template("session_results.html", s=found, r=studies.results(found),
                           organiser=organiser)


@bp.get("/s/<code>/results.json")
def results_json(code: str) -> ResponseReturnValue:
    found = _organiser_only(code)
    response = jsonify(studies.results(found))
    response.headers["Content-Disposition"] = f"attachment; filename=session-{found.code}.json"
    return _private(response)


@bp.get("/s/<code>/results.csv")
def results_csv(code: str) -> ResponseReturnValue:
    found = _organiser_only(code)
    response = Response(studies.results_csv(found), mimetype="text/csv")
    response.headers["Content-Disposition"] = f"attachment; filename=session-{found.code}.csv"
    return _private(response)
