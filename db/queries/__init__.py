"""Every DuckDB query the packages run, as named functions with bound parameters, by public view.

    door.py         the fetch helpers every query goes through (each closes its cursor), and the
                    read-only free-form SQL page
    clips.py        the catalog (`clips`) and its per-clip scores (`metrics`)
    frames.py       hand poses (`frames`) and robot episodes (`robot_frames`)
    retargets.py    robot-hand retargets (`retargets`)
    views.py        the view compiler: a `db.view_spec.ViewSpec` to SQL, and the clips it selects
    annotations.py  the store's tables mirrored into DuckDB (flags, labels, pairs, exports, runs)
"""
