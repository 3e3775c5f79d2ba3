package dev.fedprune.agent.logging;

import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.encoder.EncoderBase;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.Map;

/**
 * The agent's log lines: the human-readable pattern ({@code text}, the default) or one JSON object
 * per line ({@code json}) with the field names of Logstash's encoder, which the coordinator writes
 * too with {@code logging.structured.format.console=logstash}: {@code @timestamp}, {@code @version},
 * {@code message}, {@code logger_name}, {@code thread_name}, {@code level}, {@code level_value},
 * MDC entries, {@code stack_trace}. logback.xml sets the format from {@code -Dfedprune.log.format}
 * or {@code FEDPRUNE_LOG_FORMAT}.
 */
public final class AgentLogEncoder extends EncoderBase<ILoggingEvent> {
    private static final DateTimeFormatter TIMESTAMP = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSXXX").withZone(ZoneId.systemDefault());

    private String format = "text";
    private String pattern = "%msg%n";
    private PatternLayoutEncoder text;
    private boolean json;

    /** {@code text} or {@code json}, case-insensitive; anything else is text, with a warning. */
    public void setFormat(String format) {
        this.format = format;
    }

    /** The layout of text lines. */
    public void setPattern(String pattern) {
        this.pattern = pattern;
    }

    @Override
    public void start() {
        String chosen = format == null ? "" : format.trim().toLowerCase(Locale.ROOT);
        json = chosen.equals("json");
        if (!json) {
            if (!chosen.equals("text")) {
                addWarn("log format '" + format + "' (fedprune.log.format / FEDPRUNE_LOG_FORMAT) is neither text nor json: writing text");
            }
            text = new PatternLayoutEncoder();
            text.setContext(getContext());
            text.setPattern(pattern);
            text.start();
        }
        super.start();
    }

    @Override
    public void stop() {
        if (text != null) {
            text.stop();
        }
        super.stop();
    }

    @Override
    public byte[] headerBytes() {
        return null;
    }

    @Override
    public byte[] footerBytes() {
        return null;
    }

    @Override
    public byte[] encode(ILoggingEvent event) {
        return json ? jsonLine(event).getBytes(StandardCharsets.UTF_8) : text.encode(event);
    }

    static String jsonLine(ILoggingEvent event) {
        StringBuilder line = new StringBuilder(256).append('{');
        field(line, "@timestamp", TIMESTAMP.format(Instant.ofEpochMilli(event.getTimeStamp())));
        field(line, "@version", "1");
        field(line, "message", event.getFormattedMessage());
        field(line, "logger_name", event.getLoggerName());
        field(line, "thread_name", event.getThreadName());
        field(line, "level", event.getLevel().toString());
        line.append(",\"level_value\":").append(event.getLevel().toInt());
        for (Map.Entry<String, String> mdc : event.getMDCPropertyMap().entrySet()) {
            field(line, mdc.getKey(), mdc.getValue());
        }
        IThrowableProxy thrown = event.getThrowableProxy();
        if (thrown != null) {
            field(line, "stack_trace", ThrowableProxyUtil.asString(thrown));
        }
        return line.append("}\n").toString();
    }

    /** {@code "name":"value"}, JSON-escaped, after a comma unless it is the first. */
    private static void field(StringBuilder line, String name, String value) {
        if (line.charAt(line.length() - 1) != '{') {
            line.append(',');
        }
        quoted(line, name);
        line.append(':');
        if (value == null) {
            line.append("null");
        } else {
            quoted(line, value);
        }
    }

    private static void quoted(StringBuilder out, String s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }
}
