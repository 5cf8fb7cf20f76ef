"""Pairs: a human clip and a robot episode side by side, synchronised through the warping path; accept or reject."""

import contextlib
import json

import plotly.express as px
import streamlit as st

from app import auth_gate, cache, guard, state
from app.components import pair_hands
from app.media import media_url
from app.state import (
    PAIRS_BY_HAND_HUMAN,
    PAIRS_BY_HAND_ROBOT,
    PAIRS_CURATOR,
    PAIRS_MESSAGE,
    PAIRS_PAIR_ID,
    PAIRS_REASON,
    PAIRS_STATES,
)
from curation.manual_pairs import hand_pair_choices, pair_by_hand
from curation.pair_store import DECISION_STATES, PAIR_STATES, StaleUpdateError, decide_pair
from curation.pair_view import pair_detail, pair_label, pair_table, pair_tasks
from labeling.media.proxy import clip_playable_path, proxy_missing, served_range_s
from labeling.media.video import VideoError

PLAYER_HEIGHT_PX = 330
# The robot episode plays; the human clip follows it through the path (it seeks whenever it is off
# by more than half a frame), so both always show matched moments.
PLAYER_HTML = """<div style="display:flex;gap:8px;font-family:sans-serif;font-size:13px">
<figure style="margin:0;flex:1"><video id="robot" src="__ROBOT__" controls muted playsinline
 style="width:100%;max-height:260px;background:#000"></video><figcaption>Robot episode ·
 frame <b id="rf">0</b></figcaption></figure>
<figure style="margin:0;flex:1"><video id="human" src="__HUMAN__" muted playsinline preload="auto"
 style="width:100%;max-height:260px;background:#000"></video><figcaption>Human clip (follows the robot) ·
 frame <b id="hf">0</b></figcaption></figure></div>
__HANDS__
<script>
const cfg = __CONFIG__;
const robot = document.getElementById('robot'), human = document.getElementById('human');
function sync() {
  const r = Math.max(0, Math.min(cfg.map.length - 1, Math.round((robot.currentTime - cfg.robotFrom) * cfg.fpsR)));
  const h = cfg.map[r];
  const target = cfg.humanFrom + h / cfg.fpsH;
  if (Math.abs(human.currentTime - target) > 0.5 / cfg.fpsH) human.currentTime = target;
  document.getElementById('rf').textContent = r;
  document.getElementById('hf').textContent = Math.round(h);
  if (window.drawHands) window.drawHands(r, h);
  if (robot.currentTime >= cfg.robotTo) robot.pause();
  requestAnimationFrame(sync);
}
robot.addEventListener('loadedmetadata', () => { robot.currentTime = cfg.robotFrom; });
human.addEventListener('loadedmetadata', () => { human.currentTime = cfg.humanFrom; });
requestAnimationFrame(sync);
</script>"""

state.init(st.session_state)

st.title("Pairs")
engine, root = cache.engine(), cache.data_root()
row = st.columns([1.2, 2])
me = auth_gate.current()
curator = auth_gate.name_field(row[0], PAIRS_CURATOR, me, "Curator name", "your name, written with each decision")
row[1].multiselect("States", PAIR_STATES, key=PAIRS_STATES, placeholder="all states")
table = pair_table(engine, tuple(st.session_state[PAIRS_STATES]))

if st.session_state[PAIRS_MESSAGE]:
    kind, text = st.session_state[PAIRS_MESSAGE]
    (st.error if kind == "error" else st.success)(text)
    st.session_state[PAIRS_MESSAGE] = None


def make_pair() -> None:
    """Pair the two chosen clips as this curator's decision (accepted), aligned when they can be."""
    human, robot = st.session_state[PAIRS_BY_HAND_HUMAN], st.session_state[PAIRS_BY_HAND_ROBOT]
    try:
        actor = auth_gate.author("pair", curator)
        record = pair_by_hand(root, human, robot, actor, st.session_state[PAIRS_REASON].strip() or None)
    except (auth_gate.AuthError, ValueError) as exc:
        st.session_state[PAIRS_MESSAGE] = ("error", str(exc))
        return
    aligned = "aligned" if record.cost is not None else "not aligned (the human clip has no retargets or the "\
        "robot no 62-D state)"
    st.session_state[PAIRS_MESSAGE] = ("success", f"Pair {record.id} made by hand and accepted by {actor}, {aligned}.")
    st.session_state[PAIRS_STATES] = []
    st.session_state[PAIRS_PAIR_ID] = record.id


with st.expander("Pair by hand", icon=":material/add_link:", expanded=table.empty):
    st.caption("Clips without task text are never proposed by `egocurate pair`; pair one here with the robot "
               "episode it matches (stored as accepted, aligned when both clips can be).")
    choices = guard.attempt(hand_pair_choices, engine, what="list the clips to pair", default=None)
    if choices is not None and not choices["human"].empty and not choices["robot"].empty:
        pickers = st.columns(2)
        for column, kind, key in ((pickers[0], "human", PAIRS_BY_HAND_HUMAN),
                                  (pickers[1], "robot", PAIRS_BY_HAND_ROBOT)):
            labels = dict(zip(choices[kind]["clip_id"], choices[kind]["label"], strict=True))
            if st.session_state[key] not in labels:
                st.session_state[key] = next(iter(labels))
            column.selectbox(f"{kind.capitalize()} clip", list(labels), key=key, format_func=labels.get)
        blocked = auth_gate.why_not(me, "pair")
        st.button("Pair and accept", icon=":material/add_link:", on_click=make_pair, type="primary",
                  disabled=not curator or blocked is not None, help=blocked)
        if not curator and blocked is None:
            st.caption("Type your name above to pair; the pair is written with it.")
    elif choices is not None:
        st.caption("Pairing needs at least one human clip and one robot episode in the catalog.")
if table.empty:
    st.info("No pairs in these states. Propose some with `egocurate pair`, or pair clips by hand above.",
            icon=":material/link_off:")
    st.stop()

ids = [int(i) for i in table["id"]]
if st.session_state[PAIRS_PAIR_ID] not in ids:
    st.session_state[PAIRS_PAIR_ID] = ids[0]
labels = {int(r["id"]): pair_label(r) for _, r in table.iterrows()}
st.selectbox("Pair", ids, key=PAIRS_PAIR_ID, format_func=labels.get)
detail = guard.attempt(pair_detail, root, engine, st.session_state[PAIRS_PAIR_ID],
                       what=f"load pair {st.session_state[PAIRS_PAIR_ID]}", default=False)
if detail is False:
    st.stop()
if detail is None:
    st.warning("This pair or one of its clips is gone.", icon=":material/error:")
    st.stop()
pair = detail.pair


def decide(state_name: str, pair_id: int, version: int) -> None:
    """Write the decision on the version on screen; a stale one, or one the role does not allow, is refused."""
    try:
        actor = auth_gate.author("pair", curator)
        decide_pair(root, pair_id, state_name, actor, version, st.session_state[PAIRS_REASON].strip() or None)
    except (StaleUpdateError, auth_gate.AuthError, ValueError) as exc:
        st.session_state[PAIRS_MESSAGE] = ("error", str(exc))
        return
    st.session_state[PAIRS_MESSAGE] = ("success", f"Pair {pair_id} {state_name} by {actor}.")
    st.session_state[PAIRS_REASON] = ""


cost = "none (not aligned)" if pair.cost is None else f"{pair.cost:.3f} rad per joint"
st.markdown(f"**{pair_tasks(detail.robot.get('task'), detail.human.get('task'))}** · state **{pair.state}** · "
            f"DTW cost {cost} · task similarity {pair.task_similarity or 0:.2f}")
if detail.note:
    st.info(f"No cost: {detail.note}. Proposed on its task alone.", icon=":material/link_off:")
pending = [clip for clip in (detail.robot, detail.human) if proxy_missing(root, clip)]
if pending:  # made here, with a word, rather than behind two grey players
    with st.spinner("Making browser-playable copies of these clips (H.264; first view only)…"):
        for clip in pending:
            with contextlib.suppress(VideoError):  # the player then says it cannot play the clip
                clip_playable_path(root, clip)
human_from, human_to = served_range_s(detail.human)
robot_from, robot_to = served_range_s(detail.robot)
config = {"map": detail.human_for_robot, "fpsR": float(detail.robot["fps"]), "fpsH": float(detail.human["fps"]),
          "robotFrom": robot_from, "robotTo": robot_to, "humanFrom": human_from}
key = auth_gate.media_key()
player = (PLAYER_HTML.replace("__ROBOT__", media_url(pair.robot_clip_id, key))
          .replace("__HUMAN__", media_url(pair.human_clip_id, key)).replace("__CONFIG__", json.dumps(config))
          .replace("__HANDS__", pair_hands.hands_html(detail.hands)))
st.iframe(player, height=PLAYER_HEIGHT_PX + (pair_hands.HANDS_HEIGHT_PX if detail.hands else 0))

charts = st.columns([1, 2])
if not detail.path.empty:
    path_chart = px.line(detail.path, x="robot_frame", y="human_frame", title="Warping path")
    charts[0].plotly_chart(path_chart, width="stretch")
if not detail.curves.empty:
    title = ("Joint angles (rad) on the robot's clock, in its own hand space" if detail.hands else
             "Trajectories on the robot's clock (wrists relative to the start)")
    curves = px.line(detail.curves, x="robot_frame", y="value", color="dimension", line_dash="series", title=title)
    charts[1].plotly_chart(curves, width="stretch")

buttons = st.columns([2, 1, 1, 1])
buttons[0].text_input("Reason", key=PAIRS_REASON, placeholder="required to reject, e.g. the cup is never lifted")
blocked = auth_gate.why_not(me, "pair")  # a courtesy: decide() asks the store again at the click
disabled = not curator or blocked is not None
for column, state_name, icon in zip(buttons[1:], DECISION_STATES[::-1], (":material/close:", ":material/check:",
                                                                          ":material/undo:"), strict=True):
    label = {"accepted": "Accept", "rejected": "Reject", "proposed": "Re-open"}[state_name]
    column.button(label, key=f"pairs_{state_name}", icon=icon, on_click=decide, width="stretch",
                  args=(state_name, pair.id, pair.version), disabled=disabled or pair.state == state_name, help=blocked,
                  type="primary" if state_name == "accepted" else "secondary")
if blocked:
    st.caption(f"You can look but not decide here: {blocked}")
elif not curator:
    st.caption("Type your name above to decide; decisions are written with it.")
st.dataframe(table, hide_index=True, width="stretch")
