package dev.sluice.command;

import java.util.List;

/** Every command of the machine that is not done yet, oldest first. */
public record CommandList(List<CommandView> items) {
}
