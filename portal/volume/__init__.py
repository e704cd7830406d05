"""Volume and rank: per period, each person's PV, GV, legs and paid-as rank under the rank plan."""
