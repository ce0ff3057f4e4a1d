# bash completion for ccusage                              -*- shell-script -*-
#
# Install as share/bash-completion/completions/ccusage (bash-completion loads
# it on first use), or source this file from ~/.bashrc.  It never runs
# ccusage, so completing stays instant however large the store is.
#
# A new command: add it to _ccusage_commands_of and _ccusage_options_of.
# A new option: add it to _ccusage_options_of, and to _ccusage_value_options
# (and the case in _ccusage) when it takes a value.

_ccusage_reports="daily weekly monthly session today"

# Options of every command but config, and of ccusage itself before its
# command; then those of the reports alone (and of those but today), and of
# blocks and status alone.
_ccusage_common_options="-h --help -z --timezone -m --mode --prices -j --json --color -d --data-dir
    --log --source --db --config --no-wait -v --verbose"
_ccusage_report_options="-p --project -b --breakdown -o --order --csv"
_ccusage_range_options="-s --since -u --until"
_ccusage_window_options="--plan -t --token-limit -l --session-length"
# Those of export, serve and prune (beside their own).
_ccusage_data_options="-h --help -z --timezone -d --data-dir --log --source --db --config --no-wait -v
    --verbose"
# Those of check and report (which take the window options and --start-of-week too).
_ccusage_check_options="--notify --desktop"
_ccusage_summary_options="--date --week --month --markdown"
_ccusage_segment_options="-h --help -z --timezone -m --mode --prices --plan -t --token-limit
    -l --session-length -f --format --thresholds --color -d --data-dir --log --source --db --config"
# live: the common options but -j, --no-wait and -v, those of blocks and status, its own.
_ccusage_live_options="-h --help -z --timezone -m --mode --prices --color -d --data-dir --log --source
    --db --config $_ccusage_window_options --interval --once --view"

# Options followed by a value: the word after one is never a command.
_ccusage_value_options="-s --since -u --until -z --timezone -p --project -m --mode --prices
    --plan -t --token-limit -l --session-length --start-of-week -o --order --color -d --data-dir
    --log --source --db --config --for --notify --date -f --format --aggregate --output --host --port --before --shell
    --thresholds --interval --view"

# The commands, or a command's words, that may follow "ccusage $1".
_ccusage_commands_of() {
    case $1 in
        "") echo "$_ccusage_reports models blocks status check report prompt statusline export serve prune live config" ;;
        config) echo "show path init" ;;
    esac
}

# The options "ccusage $1" takes ("config show" takes those of config).
_ccusage_options_of() {
    local common="$_ccusage_common_options" report="$_ccusage_report_options $_ccusage_range_options"
    case $1 in
        "") echo "$common $report --by-project --start-of-week -V --version" ;;
        weekly) echo "$common $report --by-project --start-of-week" ;;
        daily | monthly) echo "$common $report --by-project" ;;
        today) echo "$common $_ccusage_report_options --by-project" ;;
        session) echo "$common $report" ;;
        models) echo "$common $_ccusage_range_options" ;;
        blocks) echo "$common $_ccusage_window_options -o --order -a --active -r --recent -s --since -u --until
            -p --project --csv" ;;
        status) echo "$common $_ccusage_window_options" ;;
        check) echo "$common $_ccusage_window_options --start-of-week $_ccusage_check_options" ;;
        report) echo "$common $_ccusage_window_options --start-of-week $_ccusage_summary_options" ;;
        prompt) echo "$_ccusage_segment_options --shell" ;;
        statusline) echo "$_ccusage_segment_options" ;;
        export) echo "$_ccusage_data_options -m --mode --prices -s --since -u --until -p --project
            -f --format --aggregate --output" ;;
        serve) echo "$_ccusage_data_options -m --mode --prices --host --port --allow-remote" ;;
        prune) echo "$_ccusage_data_options --before -n --dry-run" ;;
        live) echo "$_ccusage_live_options" ;;
        config*) echo "-h --help --for -j --json --config" ;;
    esac
}

# Zone names are the files below zoneinfo whose every path component starts
# with a capital: that leaves out posix/, right/ and the tables.
_ccusage_timezones() {
    [ -d /usr/share/zoneinfo ] || return
    (cd /usr/share/zoneinfo && LC_ALL=C find . -mindepth 1 -name '[!A-Z]*' -prune -o \
        \( -type f -o -type l \) -print) | sed 's|^\./||'
}

# The kinds of log --log reads; --source takes them as well as a source's name.
_ccusage_log_kinds="claude-code proxy calls"

# COMPREPLY from the lines on stdin; lines keep the spaces file names have.
_ccusage_reply() {
    COMPREPLY=()
    local line
    while IFS= read -r line; do
        COMPREPLY+=("$line")
    done
}

_ccusage() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
    # bash splits "--order=d" into "--order" "=" "d".
    if [[ $cur == = ]]; then
        cur=""
    elif [[ $prev == = ]]; then
        prev=${COMP_WORDS[COMP_CWORD - 2]}
    fi

    # The command path so far ("", "weekly", "config"), skipping options and
    # their values.
    local i word path="" skip=""
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
        if [[ $skip ]]; then
            [[ $word == = ]] || skip=""
            continue
        fi
        if [[ " ${_ccusage_value_options//$'\n'/ } " == *" $word "* ]]; then
            skip=1
        elif [[ $word != -* && " $(_ccusage_commands_of "$path") " == *" $word "* ]]; then
            path=${path:+$path }$word
        fi
    done

    # --log KIND:PATH: where ":" breaks words (it does by default), bash
    # splits "--log proxy:lo" into "--log" "proxy" ":" "lo".  After the colon
    # comes a file, a directory or a glob pattern.
    local kind_at=0
    if [[ $cur == : ]]; then
        kind_at=$((COMP_CWORD - 1))
        cur=""
    elif [[ $prev == : ]]; then
        kind_at=$((COMP_CWORD - 2))
    fi
    if ((kind_at > 1)) && [[ ${COMP_WORDS[kind_at - 1]} == --log ||
        ${COMP_WORDS[kind_at - 1]} == = && ${COMP_WORDS[kind_at - 2]} == --log ]]; then
        compopt -o filenames 2>/dev/null
        _ccusage_reply < <(compgen -f -- "$cur")
        return
    fi

    case $prev in
        -o | --order) _ccusage_reply < <(compgen -W "asc desc" -- "$cur"); return ;;
        -m | --mode) _ccusage_reply < <(compgen -W "auto calculate display" -- "$cur"); return ;;
        --color) _ccusage_reply < <(compgen -W "auto always never" -- "$cur"); return ;;
        --start-of-week)
            _ccusage_reply < <(compgen -W "monday tuesday wednesday thursday friday saturday sunday" -- "$cur")
            return ;;
        --shell) _ccusage_reply < <(compgen -W "plain bash zsh fish tmux" -- "$cur"); return ;;
        --view) _ccusage_reply < <(compgen -W "overview sessions models history help" -- "$cur"); return ;;
        --plan) _ccusage_reply < <(compgen -W "auto pro max5 max20 custom" -- "$cur"); return ;;
        -t | --token-limit) _ccusage_reply < <(compgen -W "max" -- "$cur"); return ;;
        -f | --format)
            # export's formats; the line of prompt and statusline is the user's own.
            [[ $path == export ]] && _ccusage_reply < <(compgen -W "csv jsonl json prometheus" -- "$cur")
            return ;;
        --aggregate) _ccusage_reply < <(compgen -W "hour day" -- "$cur"); return ;;
        --for) _ccusage_reply < <(compgen -W "$(_ccusage_commands_of "")" -- "$cur"); return ;;
        -z | --timezone) _ccusage_reply < <(compgen -W "$(_ccusage_timezones)" -- "$cur"); return ;;
        -d | --data-dir)
            compopt -o filenames 2>/dev/null
            _ccusage_reply < <(compgen -d -- "$cur")
            return ;;
        --log)
            if [[ $cur == *:* ]]; then
                # ":" breaks no words here: the kind stays in front of each path.
                local kind=${cur%%:*}
                _ccusage_reply < <(compgen -f -- "${cur#*:}" | while IFS= read -r word; do
                    printf '%s\n' "$kind:$word"
                done)
            else
                compopt -o nospace 2>/dev/null
                _ccusage_reply < <(compgen -W "${_ccusage_log_kinds// /: }:" -- "$cur")
            fi
            return ;;
        --source) _ccusage_reply < <(compgen -W "$_ccusage_log_kinds" -- "$cur"); return ;;
        --db | --prices | --config | --output)
            compopt -o filenames 2>/dev/null
            _ccusage_reply < <(compgen -f -- "$cur")
            return ;;
        # A date, a project name, hours, an address, a port, thresholds or seconds: nothing to offer, and no command either.
        -s | --since | -u | --until | -p | --project | -l | --session-length | --date | --before | --host | --port \
            | --thresholds | --interval) COMPREPLY=(); return ;;
        # A command line of its own: nothing to offer.
        --notify) COMPREPLY=(); return ;;
    esac

    local commands
    commands=$(_ccusage_commands_of "$path")
    if [[ $cur == -* || -z $commands ]]; then
        _ccusage_reply < <(compgen -W "$(_ccusage_options_of "$path")" -- "$cur")
    else
        _ccusage_reply < <(compgen -W "$commands" -- "$cur")
    fi
}

complete -F _ccusage ccusage
