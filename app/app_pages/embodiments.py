"""Embodiments: a robot dataset's spec, proposed from its names, checked side by side with the URDF, then confirmed."""

from pathlib import Path

import streamlit as st
import yaml

from app import auth_gate, cache, state
from app.state import (
    EMBODIMENTS_AUTHOR,
    EMBODIMENTS_CONFIG_DIR,
    EMBODIMENTS_DATASET,
    EMBODIMENTS_HAND,
    EMBODIMENTS_MESSAGE,
    EMBODIMENTS_NAME,
    EMBODIMENTS_PROPOSAL,
    EMBODIMENTS_SHOWN,
    EMBODIMENTS_URDF_DIR,
)
from db.queries.embodiments import embodiment_table, robot_datasets
from labeling.embodiment.apply import set_spec
from labeling.embodiment.propose import dataset_sample, mapping_table, propose_spec, spec_from_table
from labeling.embodiment.spec import UNITS, SpecError, spec_from_dict
from labeling.embodiment.store import load_spec

state.init(st.session_state)
st.title("Embodiments")
st.caption("A spec says which dimensions of a robot dataset's state are which URDF joints, in which unit: pairing "
           "then aligns the robot in its own hand space, the viewer draws its hand, exports keep its layout.")
engine, root = cache.engine(), cache.data_root()
if st.session_state[EMBODIMENTS_MESSAGE]:
    kind, text = st.session_state[EMBODIMENTS_MESSAGE]
    (st.error if kind == "error" else st.success)(text)
    st.session_state[EMBODIMENTS_MESSAGE] = None

stored = embodiment_table(engine)
st.subheader("Specs in the store")
if stored.empty:
    st.caption("None yet: `egocurate ingest DATASET --embodiment SPEC.yml`, or propose one below.")
else:
    st.dataframe(stored, hide_index=True, width="stretch")
    shown = st.selectbox("Show a stored spec's mapping", stored["name"].tolist(), key=EMBODIMENTS_SHOWN,
                         index=None, placeholder="pick a spec")
    if shown:
        try:
            spec = load_spec(engine, shown)
        except (KeyError, SpecError) as exc:
            st.error(f"{shown} cannot be used: {exc}")
        else:
            st.dataframe(mapping_table(spec), hide_index=True, width="stretch",
                         column_config={"lower": st.column_config.NumberColumn("lower (rad)", format="%.3f"),
                                        "upper": st.column_config.NumberColumn("upper (rad)", format="%.3f")})
            with st.expander(f"{shown} as stored (JSON, paths resolved)", icon=":material/description:"):
                st.json(spec.to_dict())

st.subheader("Propose a spec from the names")
datasets = robot_datasets(engine)
if datasets.empty:
    st.info("No robot datasets in the catalog yet: `egocurate ingest DATASET`.",
            icon=":material/precision_manufacturing:")
    st.stop()
labels = {row.dataset: f"{Path(row.dataset).name} · {row.episodes} episodes · {row.robot_type or 'robot'}"
          + (f" · follows {row.embodiments}" if row.embodiments else "")
          for row in datasets.itertuples()}
if st.session_state[EMBODIMENTS_DATASET] not in labels:
    st.session_state[EMBODIMENTS_DATASET] = next(iter(labels))
row = st.columns([2, 1, 1])
dataset = row[0].selectbox("Robot dataset", list(labels), key=EMBODIMENTS_DATASET, format_func=labels.get)
row[1].text_input("Hand", key=EMBODIMENTS_HAND, placeholder="inspire, or a config .yml",
                  help="A registered hand (inspire, allegro, leap, ability, sharpa_ha4, g1_dex3) or a dex-retargeting "
                       "config of one side; the other side's file (left/right swapped) is used too")
row[2].text_input("Embodiment name", key=EMBODIMENTS_NAME, placeholder=Path(dataset).name)
row = st.columns(2)
row[0].text_input("Config folder", key=EMBODIMENTS_CONFIG_DIR, placeholder="where a registered hand's configs are")
row[1].text_input("URDF folder", key=EMBODIMENTS_URDF_DIR, placeholder="resolves the configs' relative urdf_path")


def propose() -> None:
    """Match the dataset's names to the hand's joints; the result waits in the session for the curator."""
    hand = st.session_state[EMBODIMENTS_HAND].strip()
    try:
        names, values, groups = dataset_sample(engine, dataset)
        proposal = propose_spec(names, hand, st.session_state[EMBODIMENTS_NAME].strip() or Path(dataset).name,
                                st.session_state[EMBODIMENTS_CONFIG_DIR].strip() or None,
                                st.session_state[EMBODIMENTS_URDF_DIR].strip() or None, values, groups)
    except SpecError as exc:
        st.session_state[EMBODIMENTS_MESSAGE] = ("error", f"Cannot propose a spec: {'; '.join(exc.problems)}")
        return
    st.session_state[EMBODIMENTS_PROPOSAL] = {"dataset": dataset, "names": names, "spec": proposal.skeleton(),
                                              "table": proposal.table, "note": proposal.note}


st.button("Propose", icon=":material/auto_fix_high:", on_click=propose, disabled=not st.session_state[EMBODIMENTS_HAND])
proposal = st.session_state[EMBODIMENTS_PROPOSAL]
if not proposal or proposal["dataset"] != dataset:
    st.stop()

if proposal.get("note"):
    st.info(f"{proposal['note']} Pick each joint's dimension in the table.", icon=":material/edit_note:")
st.markdown("**The mapping, side by side**: each URDF joint (left) and the dataset dimension proposed for it "
            "(right). Change a dimension, its unit or `invert` where the names misled; `invert` cannot be told "
            "from names: tick it when the dataset's 1 is the joint's lower limit (e.g. 1 = open).")
edited = st.data_editor(
    proposal["table"], hide_index=True, width="stretch", key="embodiments.editor",
    disabled=["side", "joint", "score"], column_order=["side", "joint", "dimension", "unit", "invert", "score"],
    column_config={"joint": st.column_config.TextColumn("URDF joint"),
                   "dimension": st.column_config.SelectboxColumn("dataset dimension", options=proposal["names"]),
                   "unit": st.column_config.SelectboxColumn("unit", options=list(UNITS)),
                   "invert": st.column_config.CheckboxColumn("invert"),
                   "score": st.column_config.NumberColumn("name match", format="%.2f")})
spec_values = spec_from_table(proposal["spec"], edited)
problems = ["no joint has a dataset dimension yet: pick them in the table"] if not spec_values["hands"] else []
try:
    problems = problems or spec_from_dict(spec_values).check_names(proposal["names"])
except SpecError as exc:
    problems = exc.problems
if problems:
    st.error("The spec does not check yet:\n\n" + "\n".join(f"- {p}" for p in problems))
else:
    st.success("The spec checks against the URDF and the dataset's names.", icon=":material/check:")
text = yaml.safe_dump(spec_values, sort_keys=False, width=120)
with st.expander("The spec as YAML", icon=":material/description:"):
    st.code(text, language="yaml")
me = auth_gate.current()
row = st.columns([1, 1, 1])
author = auth_gate.name_field(row[0], EMBODIMENTS_AUTHOR, me, "Your name", "recorded with the spec")
row[1].download_button("Download YAML", text, file_name=f"{spec_values['name']}.yml", icon=":material/download:")
blocked = auth_gate.why_not(me, "embodiment")  # a courtesy: the click asks the store again


def confirm() -> None:
    try:
        actor = auth_gate.author("embodiment", author)
        applied = set_spec(root, spec_from_dict(spec_values), dataset=dataset, author=actor)
    except (SpecError, auth_gate.AuthError, ValueError) as exc:
        st.session_state[EMBODIMENTS_MESSAGE] = ("error", str(exc))
        return
    checks = "".join(f"\n- check: {w}" for w in applied.warnings)
    st.session_state[EMBODIMENTS_MESSAGE] = ("success", f"{applied.name} (version {applied.version}) stored: "
                                                        f"{applied.episodes} episodes follow it. Next: `egocurate "
                                                        f"retarget --embodiment {applied.name}`, `egocurate pair`."
                                                        + checks)
    st.session_state[EMBODIMENTS_PROPOSAL] = None


row[2].button("Confirm for every episode", type="primary", icon=":material/check:", on_click=confirm,
              disabled=bool(problems) or bool(blocked) or not author, help=blocked)
