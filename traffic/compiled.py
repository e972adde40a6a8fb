"""The compiled (numba) event loop of the dynamic network loading (``traffic.dynamic``).

``traffic.dynamic`` documents the link and station models; this module runs them as one
discrete-event simulation over arrays. Every event has a key ``(time_min, seq)``: ``seq``
counts the events in the order they are scheduled, so events at the same time are processed
first-scheduled first. The departures are events ``0 .. n - 1`` (trip order), read from the
trips sorted by time; the events scheduled while loading wait in a binary heap, and a departure
goes before a heap event at the same time. An event is one of

* a vehicle's departure: it enters its first links until one takes time;
* a vehicle's *resume*: its time on a link (travel, station access, service) is over; it
  leaves the link and enters the next ones until one takes time;
* a *grant*: a station port is assigned to the vehicle at the head of the link's port queue
  (the vehicle then holds it for ``service_min``);
* a *release*: a port freed at the end of a service is handed to the head of the queue, if any.

**Same numbers.** These are the events, in the same order, of the process-per-vehicle
simulation this loop replaced (a simpy ``Environment`` with a ``Resource`` per station link;
``tests/traffic_reference.py`` keeps it): its clock sorts events by ``(time, priority, id)``
with ids counted on scheduling, every event here has the normal priority, and the events it
had that change nothing (process start and end) are left out, which keeps the order of the
others. When a vehicle joins a port queue and when a release is processed, the head of the
queue gets a port if one is free; a port is free from the moment its user leaves, before its
release event (which comes after the events scheduled before it at the same time). Times are
computed with the same operations in the same order, a delay ``d = out - enter`` is scheduled
at ``enter + d`` as the clock did, ``max`` keeps the first argument on ties and powers are
``pow`` calls, so traversals, their order and all times are bitwise those of the reference.
"""

from __future__ import annotations

import numpy as np

from flexibility.compiled import kernel

# link kinds of the loop
ROAD = 0
STATION_QUEUE = 1  # ports as parallel servers with a FIFO queue
STATION_BPR = 2  # the waiting-time term instead of a queue
DUMMY = 3

# road link models
QUEUE = 0  # point queue
BPR_WINDOW = 1  # BPR on the inflow of the last window
BPR_TABLE = 2  # BPR on a given inflow per interval

# events (the kind is ``code % 3``, the vehicle or link ``code // 3``)
RESUME = 0
GRANT = 1
RELEASE = 2

# what a vehicle's next resume ends
TRAVEL = 0  # a road or dummy link, or a station link of the waiting-time model
ACCESS = 1  # the access time of a station link (then it asks for a port)
WAITING = 2  # for a port (it resumes on a grant, not a resume)
SERVICE = 3
ARRIVED = 4

# rows of the link parameters: ``link_int`` (kind, ports), ``link_f`` (t0, headway, service)
KIND, PORTS = 0, 1
T0, CAP_H, SERVICE_MIN = 0, 1, 2
# rows of the link state: ``state_int`` (vehicles on the link, ports in use, the port queue's
# and the inflow window's first and end slots) and ``state_f`` (last exit, vehicles in window)
ON_LINK, USERS, Q_HEAD, Q_TAIL, W_HEAD, W_TAIL = 0, 1, 2, 3, 4, 5
LAST_EXIT, IN_WINDOW = 0, 1
# rows of the vehicle state: ``veh_int`` (path position, stage), ``veh_f`` (entry time into
# the current link, time of the port request, port wait)
POS, STAGE = 0, 1
ENTER, T_REQ, WAIT = 0, 1, 2
# event counters: events pending, events scheduled, traversals recorded
SIZE, SEQ, N_REC = 0, 1, 2


@kernel
def schedule(ev, time_min, code):  # pragma: no cover
    """Add the event ``(time_min, seq)`` of ``code`` to the heap ``ev`` (next ``seq``)."""
    h_time, h_seq, h_code, ctr = ev
    seq = ctr[SEQ]
    ctr[SEQ] += 1
    i = ctr[SIZE]
    ctr[SIZE] += 1
    while i > 0:
        parent = (i - 1) >> 1
        if h_time[parent] < time_min or (h_time[parent] == time_min and h_seq[parent] < seq):
            break
        h_time[i], h_seq[i], h_code[i] = h_time[parent], h_seq[parent], h_code[parent]
        i = parent
    h_time[i], h_seq[i], h_code[i] = time_min, seq, code


@kernel
def next_event(ev):  # pragma: no cover
    """Remove the first event (least ``(time, seq)``) from the heap; its time and code."""
    h_time, h_seq, h_code, ctr = ev
    time_min, code = h_time[0], h_code[0]
    size = ctr[SIZE] - 1
    ctr[SIZE] = size
    last_t, last_s, last_c = h_time[size], h_seq[size], h_code[size]
    i = 0
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        right = child + 1
        if right < size and (h_time[right] < h_time[child] or (
                h_time[right] == h_time[child] and h_seq[right] < h_seq[child])):
            child = right
        if last_t < h_time[child] or (last_t == h_time[child] and last_s < h_seq[child]):
            break
        h_time[i], h_seq[i], h_code[i] = h_time[child], h_seq[child], h_code[child]
        i = child
    if size > 0:
        h_time[i], h_seq[i], h_code[i] = last_t, last_s, last_c
    return time_min, code


@kernel
def load_events(depart_min, depart_order, n_veh, path_ptr, path_link, link_int, link_f, model,
                window_min, inflow_veh_h, slot_ptr, rec_int, rec_f, arrive_min):  # pragma: no cover
    """Load the trips (CSR paths) and record every traversal in event order.

    Args:
        depart_min: ``(n,)`` departure times (non-negative).
        depart_order: ``(n,)`` trips by departure time, ties in trip order (a stable sort).
        n_veh: ``(n,)`` vehicles per trip (float).
        path_ptr: ``(n + 1,)`` start of every trip's links in ``path_link``.
        path_link: ``(m,)`` link indices of all paths.
        link_int: ``(2, L)`` link kind (``ROAD``, ``STATION_QUEUE``, ``STATION_BPR``,
            ``DUMMY``) and ports.
        link_f: ``(3, L)`` free-flow or access time (min), headway ``60 / capacity`` (min; 0
            without capacity) and service time (min).
        model: Road link model (``QUEUE``, ``BPR_WINDOW``, ``BPR_TABLE``).
        window_min: BPR window (and interval of ``inflow_veh_h``).
        inflow_veh_h: ``(L, K)`` inflow rates (``BPR_TABLE``; else any 2-D array).
        slot_ptr: ``(L + 1,)`` start of every link's slots in the per-link queues (as many as
            the traversals of the link).
        rec_int: ``(2, m)`` filled with the link and the trip (position in ``depart_min``) of
            every traversal, in event order.
        rec_f: ``(3, m)`` filled with its entry time, exit time and port waiting time (0 off
            station queues).
        arrive_min: ``(n,)`` filled with the arrival times.

    Returns:
        The number of traversals recorded (``m`` when every trip arrived).
    """
    n, n_links = depart_min.size, link_int.shape[1]
    cap = 2 * n + 2  # pending: at most one event per vehicle, plus releases
    ev = (np.empty(cap), np.empty(cap, dtype=np.int64), np.empty(cap, dtype=np.int64),
          np.zeros(3, dtype=np.int64))
    veh_int = np.zeros((2, n), dtype=np.int64)
    veh_int[POS] = path_ptr[:-1]
    veh = (veh_int, np.zeros((3, n)))
    state_int = np.zeros((6, n_links), dtype=np.int64)
    for row in (Q_HEAD, Q_TAIL, W_HEAD, W_TAIL):
        state_int[row] = slot_ptr[:-1]
    state_f = np.zeros((2, n_links))
    state_f[LAST_EXIT] = -np.inf
    n_slots = slot_ptr[-1]
    state = (state_int, state_f, np.empty(n_slots, dtype=np.int64), np.empty((2, n_slots)))
    trips = (depart_min, n_veh, path_ptr, path_link)
    net = (link_int, link_f, model, window_min, inflow_veh_h)
    rec = (rec_int, rec_f, arrive_min)
    ev[3][SEQ] = n  # the departures are events 0..n-1, kept out of the heap in time order
    h_time, nxt = ev[0], 0
    while nxt < n or ev[3][SIZE] > 0:
        if nxt < n and (ev[3][SIZE] == 0 or depart_min[depart_order[nxt]] <= h_time[0]):
            i = depart_order[nxt]  # a departure goes first on a tie: it was scheduled first
            nxt += 1
            enter_links(i, depart_min[i], trips, net, veh, state, ev, rec)
            continue
        now, code = next_event(ev)
        what, i = code % 3, code // 3
        if what == RELEASE:
            grant_head(i, now, state, link_int, ev)
        elif what == GRANT:
            veh[1][WAIT, i] = now - veh[1][T_REQ, i]
            veh_int[STAGE, i] = SERVICE
            schedule(ev, now + link_f[SERVICE_MIN, path_link[veh_int[POS, i]]], 3 * i + RESUME)
        elif veh_int[STAGE, i] == ACCESS:
            request_port(i, path_link[veh_int[POS, i]], now, veh, state, link_int, ev)
        else:
            leave_link(i, now, trips, veh, state, ev, rec)
            enter_links(i, now, trips, net, veh, state, ev, rec)
    return ev[3][N_REC]


@kernel
def grant_head(a, now, state, link_int, ev):  # pragma: no cover
    """Give a free port of station link ``a`` to the head of its queue (a grant event now)."""
    state_int, queue = state[0], state[2]
    if state_int[Q_HEAD, a] < state_int[Q_TAIL, a] and \
            state_int[USERS, a] < link_int[PORTS, a]:
        i = queue[state_int[Q_HEAD, a]]
        state_int[Q_HEAD, a] += 1
        state_int[USERS, a] += 1
        schedule(ev, now, 3 * i + GRANT)


@kernel
def request_port(i, a, now, veh, state, link_int, ev):  # pragma: no cover
    """Vehicle ``i`` joins the port queue of station link ``a`` (granted now if it can be)."""
    veh_int, veh_f = veh
    state_int, queue = state[0], state[2]
    veh_int[STAGE, i] = WAITING
    veh_f[T_REQ, i] = now
    queue[state_int[Q_TAIL, a]] = i
    state_int[Q_TAIL, a] += 1
    grant_head(a, now, state, link_int, ev)


@kernel
def leave_link(i, now, trips, veh, state, ev, rec):  # pragma: no cover
    """Vehicle ``i`` leaves its link (a port it held is released) and the traversal is recorded."""
    path_link = trips[3]
    veh_int, veh_f = veh
    state_int = state[0]
    rec_int, rec_f = rec[0], rec[1]
    a = path_link[veh_int[POS, i]]
    wait = 0.0
    if veh_int[STAGE, i] == SERVICE:
        state_int[USERS, a] -= 1
        schedule(ev, now, 3 * a + RELEASE)
        wait = veh_f[WAIT, i]
    state_int[ON_LINK, a] -= 1
    record(a, i, veh_f[ENTER, i], now, wait, ev, rec_int, rec_f)
    veh_int[POS, i] += 1


@kernel
def record(a, i, enter, exit_, wait, ev, rec_int, rec_f):  # pragma: no cover
    """Append the traversal of link ``a`` by trip ``i``."""
    r = ev[3][N_REC]
    ev[3][N_REC] = r + 1
    rec_int[0, r], rec_int[1, r] = a, i
    rec_f[0, r], rec_f[1, r], rec_f[2, r] = enter, exit_, wait


@kernel
def enter_links(i, now, trips, net, veh, state, ev, rec):  # pragma: no cover
    """Vehicle ``i`` enters its next links until one takes time (or it arrives)."""
    n_veh, path_ptr, path_link = trips[1], trips[2], trips[3]
    link_int, link_f = net[0], net[1]
    veh_int, veh_f = veh
    on_link = state[0][ON_LINK]
    while True:
        if veh_int[POS, i] == path_ptr[i + 1]:
            veh_int[STAGE, i] = ARRIVED
            rec[2][i] = now
            return
        a = path_link[veh_int[POS, i]]
        veh_f[ENTER, i] = now
        on_link[a] += 1
        kind, t0, service = link_int[KIND, a], link_f[T0, a], link_f[SERVICE_MIN, a]
        if kind == STATION_QUEUE:
            if t0 > 0:
                veh_int[STAGE, i] = ACCESS
                schedule(ev, now + t0, 3 * i + RESUME)
            else:
                request_port(i, a, now, veh, state, link_int, ev)
            return
        if kind == DUMMY and not t0 > 0:  # no time: straight through
            on_link[a] -= 1
            record(a, i, now, now, 0.0, ev, rec[0], rec[1])
            veh_int[POS, i] += 1
            continue
        if kind == STATION_BPR:
            delay = t0 + service + service * (on_link[a] / link_int[PORTS, a]) ** 3.0
        elif kind == DUMMY:
            delay = t0
        else:
            delay = road_exit_min(a, now, n_veh[i], net, state) - now
        veh_int[STAGE, i] = TRAVEL
        schedule(ev, now + delay, 3 * i + RESUME)
        return


@kernel
def road_exit_min(a, enter, n_veh, net, state):  # pragma: no cover
    """Time the vehicle (platoon of ``n_veh``) entering road link ``a`` at ``enter`` moves on.

    Point queue (``h`` the headway): ``out = max(enter + t0, last + h)``; the link's last exit
    becomes ``out + (n_veh - 1) h`` and the platoon moves at ``out + (n_veh - 1) h / 2``. BPR
    with inflow rate ``w`` (veh/h) and capacity ``c = 60 / h``:
    ``out = max(enter + t0 (1 + 0.15 (w / c)^4), last)``, with ``w`` read from the table at the
    entry interval or counted over the last window (``w = 60 N / window``, ``N`` the vehicles
    that entered less than a window ago).
    """
    link_f, model, window_min, inflow_veh_h = net[1], net[2], net[3], net[4]
    state_int, state_f, win = state[0], state[1], state[3]
    t0, cap_h, last = link_f[T0, a], link_f[CAP_H, a], state_f[LAST_EXIT, a]
    if model == QUEUE:
        out = enter + t0
        held = last + cap_h
        if held > out:
            out = held
        state_f[LAST_EXIT, a] = out
        if n_veh > 1:
            state_f[LAST_EXIT, a] = out + (n_veh - 1) * cap_h
            out += 0.5 * (n_veh - 1) * cap_h
        return out
    if model == BPR_TABLE:
        k = min(int(enter // window_min), inflow_veh_h.shape[1] - 1)
        w = inflow_veh_h[a, k]
    else:
        j = state_int[W_TAIL, a]
        win[0, j], win[1, j] = enter, n_veh
        state_int[W_TAIL, a] = j + 1
        state_f[IN_WINDOW, a] += n_veh
        while state_int[W_HEAD, a] < state_int[W_TAIL, a] and \
                win[0, state_int[W_HEAD, a]] <= enter - window_min:
            state_f[IN_WINDOW, a] -= win[1, state_int[W_HEAD, a]]
            state_int[W_HEAD, a] += 1
        w = state_f[IN_WINDOW, a] * 60.0 / window_min
    out = enter + t0 * (1.0 + 0.15 * (w * cap_h / 60.0) ** 4.0)
    if last > out:
        out = last
    state_f[LAST_EXIT, a] = out
    return out
