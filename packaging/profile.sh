# postfix-queue-tools: opt in to our postqueue, mailq, postsuper and qshape for a shell.
# Source it from ~/.profile or ~/.bashrc (`. /usr/lib/postfix-queue-tools/profile.sh`), or
# for every login shell: ln -s /usr/lib/postfix-queue-tools/profile.sh /etc/profile.d/postfix-queue-tools.sh
#
# PATH: our tools come before Postfix's /usr/sbin and /usr/bin ones of the same name.
# man-db finds /usr/lib/postfix-queue-tools/man from that PATH entry by itself; a MANPATH you
# set yourself needs the directory added. XDG_DATA_DIRS: bash-completion and fish look for
# completions under each entry's bash-completion/completions and fish/vendor_completions.d.
# (zsh: fpath=(/usr/lib/postfix-queue-tools/share/zsh/vendor-completions $fpath) before compinit.)
case ":${PATH}:" in
    *:/usr/lib/postfix-queue-tools/bin:*) ;;
    *) PATH="/usr/lib/postfix-queue-tools/bin:${PATH}" ;;
esac
if [ -n "${MANPATH:-}" ]; then
    case ":${MANPATH}:" in
        *:/usr/lib/postfix-queue-tools/man:*) ;;
        *) MANPATH="/usr/lib/postfix-queue-tools/man:${MANPATH}" ;;
    esac
    export MANPATH
fi
case ":${XDG_DATA_DIRS:-}:" in
    *:/usr/lib/postfix-queue-tools/share:*) ;;
    *) XDG_DATA_DIRS="/usr/lib/postfix-queue-tools/share:${XDG_DATA_DIRS:-/usr/local/share:/usr/share}" ;;
esac
export PATH XDG_DATA_DIRS
